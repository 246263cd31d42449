//! Text that is kept inline when short, so that the small JSON values most calls capture (`3`,
//! `{"a":1,"b":2}`) need no heap buffer: none to take on the instrumented thread, none for the
//! export thread to give back.
//!
//! Same size as a `String` (24 bytes): the enum's tag lives in the niche of the `String`'s
//! capacity, which never exceeds `isize::MAX`.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest text kept inline: what fits beside the length byte in a `String`'s 24 bytes without
/// touching the word that carries the tag.
pub(crate) const INLINE_CAPACITY: usize = 15;

/// A string, inline up to [`INLINE_CAPACITY`] bytes, else on the heap. Compared, hashed and
/// printed as its text, whichever way it is stored.
#[derive(Clone)]
pub(crate) struct CompactText(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is valid UTF-8, `len <= INLINE_CAPACITY`.
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAPACITY],
    },
    Heap(String),
}

const _: () = assert!(std::mem::size_of::<CompactText>() == std::mem::size_of::<String>());

impl CompactText {
    /// `text` copied inline, if it is short enough.
    #[inline(always)]
    pub(crate) fn inline(text: &str) -> Option<Self> {
        let len = text.len();
        if len > INLINE_CAPACITY {
            return None;
        }
        let mut bytes = [0; INLINE_CAPACITY];
        copy_short(&mut bytes[..len], text.as_bytes());
        Some(Self(Repr::Inline { len: len as u8, bytes }))
    }

    /// The text `bytes[..len]`, moved as it is (no copy of a variable length).
    ///
    /// # Safety
    ///
    /// `len <= INLINE_CAPACITY`, and `bytes[..len]` is valid UTF-8.
    #[inline(always)]
    pub(crate) unsafe fn from_inline_unchecked(bytes: [u8; INLINE_CAPACITY], len: u8) -> Self {
        debug_assert!(std::str::from_utf8(&bytes[..usize::from(len)]).is_ok());
        Self(Repr::Inline { len, bytes })
    }

    /// `text` itself, keeping its heap buffer whatever its length (freeing it here would cost
    /// more than it saves).
    #[inline]
    pub(crate) fn heap(text: String) -> Self {
        Self(Repr::Heap(text))
    }

    /// `text` copied: inline when it fits, else into a new heap buffer.
    pub(crate) fn copied(text: &str) -> Self {
        Self::inline(text).unwrap_or_else(|| Self::heap(text.to_owned()))
    }

    #[inline(always)]
    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len)];
                debug_assert!(std::str::from_utf8(text).is_ok());
                // SAFETY: `Inline` is written only by `inline`, which copies exactly one whole
                // `str` of `len` bytes to the start of `bytes`, and by `from_inline_unchecked`,
                // whose caller guarantees the same.
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Heap(text) => text,
        }
    }

    /// The text as a `String` (allocated now when it was inline).
    pub(crate) fn into_string(self) -> String {
        match self.0 {
            Repr::Inline { .. } => self.as_str().to_owned(),
            Repr::Heap(text) => text,
        }
    }

    /// The heap buffer, if the text has one: what [`crate::recycle`] can reuse.
    #[inline]
    pub(crate) fn into_buffer(self) -> Option<String> {
        match self.0 {
            Repr::Inline { .. } => None,
            Repr::Heap(text) => Some(text),
        }
    }
}

/// `dst.copy_from_slice(src)` for at most 16 bytes, as two overlapping fixed-size copies:
/// the lengths vary, so `copy_from_slice` would call `memcpy`, costlier than the copy itself.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let len = src.len();
    debug_assert!(dst.len() == len && len <= 16);
    match len {
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[len - 8..].copy_from_slice(&src[len - 8..]);
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[len - 4..].copy_from_slice(&src[len - 4..]);
        }
        1..=3 => {
            dst[0] = src[0];
            dst[len / 2] = src[len / 2];
            dst[len - 1] = src[len - 1];
        }
        _ => dst.copy_from_slice(src),
    }
}

impl Default for CompactText {
    fn default() -> Self {
        Self(Repr::Inline { len: 0, bytes: [0; INLINE_CAPACITY] })
    }
}

impl PartialEq for CompactText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CompactText {}

/// As the `str`: equal texts hash alike however they are stored, and as a `String` did.
impl Hash for CompactText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// As the `str`, so that `JsonText`'s derived `Debug` prints what it printed as a `String`.
impl fmt::Debug for CompactText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    const SAMPLES: [&str; 7] = [
        "",
        "3",
        "{\"a\":1,\"b\":2}",
        "\"é✓🦀\"",
        "{\"a\":999,\"b\":2}",
        "sixteen bytes!!!",
        "a longer text, on the heap",
    ];

    #[test]
    fn short_texts_are_inline_and_long_ones_on_the_heap() {
        for text in SAMPLES {
            let copied = CompactText::copied(text);
            assert_eq!(copied.as_str(), text);
            let inline = text.len() <= INLINE_CAPACITY;
            assert_eq!(CompactText::inline(text).is_some(), inline, "{text}");
            assert_eq!(copied.clone().into_buffer().is_none(), inline, "{text}");
            assert_eq!(copied.into_string(), text);
        }
        assert_eq!(CompactText::default().as_str(), "");
        assert_eq!(std::mem::size_of::<Option<CompactText>>(), 24);
    }

    #[test]
    fn storage_is_invisible_to_comparison_hashing_and_debug() {
        let hasher = std::collections::hash_map::RandomState::new();
        for text in SAMPLES {
            let inline = CompactText::copied(text);
            let heap = CompactText::heap(text.to_owned());
            assert_eq!(inline, heap);
            assert_eq!(hasher.hash_one(&inline), hasher.hash_one(&heap));
            assert_eq!(hasher.hash_one(&inline), hasher.hash_one(text.to_owned()));
            assert_eq!(format!("{inline:?}"), format!("{text:?}"));
            assert_eq!(format!("{heap:?}"), format!("{text:?}"));
        }
        assert_ne!(CompactText::copied("1"), CompactText::copied("12"));
    }

    #[test]
    fn an_inline_text_from_its_parts_is_its_prefix() {
        let mut bytes = [0xff; INLINE_CAPACITY]; // never UTF-8: only the prefix is read
        bytes[..2].copy_from_slice("é".as_bytes());
        // SAFETY: `bytes[..2]` is "é"; what follows is not part of the text.
        let text = unsafe { CompactText::from_inline_unchecked(bytes, 2) };
        assert_eq!(text, CompactText::copied("é"));
        // SAFETY: the whole array is ASCII.
        let full = unsafe { CompactText::from_inline_unchecked([b'1'; INLINE_CAPACITY], 15) };
        assert_eq!(full.as_str(), "1".repeat(INLINE_CAPACITY));
    }

    #[test]
    fn a_heap_text_keeps_its_buffer() {
        let mut text = String::with_capacity(200);
        text.push('1');
        let pointer = text.as_ptr();
        let buffer = CompactText::heap(text).into_buffer().unwrap();
        assert_eq!((buffer.as_ptr(), buffer.capacity()), (pointer, 200));
    }
}
