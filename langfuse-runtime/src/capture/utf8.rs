//! The capture buffer, whose bytes are valid UTF-8 at every step, so that it becomes a
//! `String` without a second pass over the text.
//!
//! The invariant is kept by construction: the bytes are private to this module and every
//! method appends or keeps only whole UTF-8 sequences — whole `str`s and `char`s, the escaper's
//! output (it cuts `str`s only before ASCII bytes), serde_json's output (which writes whole
//! `str` fragments, ASCII numbers and punctuation: serde_json's own `to_string` relies on the
//! same fact), and cuts rounded down to a character boundary. Debug builds re-check the whole
//! buffer whenever it is read as text, which the unit tests below exercise.

use std::io;

use super::isolate::StackGuard;

/// Bytes of UTF-8 text (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Utf8Buf {
    bytes: Vec<u8>,
}

impl Utf8Buf {
    /// An empty buffer taken from [`crate::recycle`].
    #[inline]
    pub(crate) fn recycled(capacity: usize) -> Self {
        Self { bytes: crate::recycle::buffer(capacity) }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        debug_assert!(std::str::from_utf8(&self.bytes).is_ok(), "capture buffer is not UTF-8");
        // SAFETY: the module's invariant (see the module docs).
        unsafe { std::str::from_utf8_unchecked(&self.bytes) }
    }

    #[inline]
    pub(crate) fn push(&mut self, c: char) {
        if c.is_ascii() {
            self.bytes.push(c as u8);
        } else {
            self.push_str(c.encode_utf8(&mut [0; 4]));
        }
    }

    #[inline]
    pub(crate) fn push_str(&mut self, text: &str) {
        self.bytes.extend_from_slice(text.as_bytes());
    }

    /// Appends `text` escaped for the inside of a JSON string.
    #[inline]
    pub(crate) fn push_escaped(&mut self, text: &str) {
        crate::escape::escape_into(&mut self.bytes, text);
    }

    #[inline]
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Shortens the text to at most `len` bytes, rounded down to a character boundary.
    pub(crate) fn truncate(&mut self, len: usize) {
        let len = floor_char_boundary(self.as_str(), len);
        self.bytes.truncate(len);
    }

    /// Cuts the inside of a JSON string that starts at `content_start` to at most `end`
    /// bytes of buffer, never inside a character or an escape sequence, so that closing the
    /// string afterwards yields valid JSON.
    pub(crate) fn cut_string_content(&mut self, content_start: usize, end: usize) {
        let limit = end.min(self.bytes.len());
        let mut i = content_start;
        while i < limit {
            let step = match self.bytes[i] {
                b'\\' if self.bytes.get(i + 1) == Some(&b'u') => 6,
                b'\\' => 2,
                b if b < 0x80 => 1,
                b if b < 0xe0 => 2,
                b if b < 0xf0 => 3,
                _ => 4,
            };
            if i + step > limit {
                break;
            }
            i += step;
        }
        if i < self.bytes.len() {
            self.truncate(i);
        }
    }

    /// Appends the compact JSON of `value`, at most up to `end` bytes of buffer: past it the
    /// serialization fails and `*cut` is set (the bytes written so far are kept). Stops the
    /// same way when `guard` sees the user's impl recursing too deep.
    pub(crate) fn serialize<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
        end: usize,
        guard: &StackGuard,
        cut: &mut bool,
    ) -> serde_json::Result<()> {
        let start = self.bytes.len();
        let result = serde_json::to_writer(Sink { bytes: &mut self.bytes, end, guard, cut }, value);
        debug_assert!(std::str::from_utf8(&self.bytes[start..]).is_ok());
        result
    }

    #[inline]
    pub(crate) fn into_string(self) -> String {
        debug_assert!(std::str::from_utf8(&self.bytes).is_ok(), "capture buffer is not UTF-8");
        // SAFETY: the module's invariant (see the module docs).
        unsafe { String::from_utf8_unchecked(self.bytes) }
    }
}

/// The largest index ≤ `index` that is a character boundary of `text`.
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// serde_json's writer: appends whole fragments while they fit, refuses the rest.
struct Sink<'a> {
    bytes: &'a mut Vec<u8>,
    end: usize,
    guard: &'a StackGuard,
    cut: &'a mut bool,
}

impl io::Write for Sink<'_> {
    /// serde_json writes every fragment through `write_all`: the common case (it fits) is
    /// inlined into the serializer, as `Vec<u8>`'s own writer is.
    #[inline(always)]
    fn write_all(&mut self, chunk: &[u8]) -> io::Result<()> {
        if !*self.cut && chunk.len() <= self.end.saturating_sub(self.bytes.len()) {
            if self.guard.exceeded() {
                *self.cut = true;
                return Err(io::Error::other("stack bound reached"));
            }
            self.bytes.extend_from_slice(chunk);
            return Ok(());
        }
        self.write(chunk).map(|_| ())
    }

    #[cold]
    fn write(&mut self, chunk: &[u8]) -> io::Result<usize> {
        if *self.cut || self.guard.exceeded() {
            *self.cut = true;
            return Err(io::Error::other("field budget exceeded"));
        }
        let room = self.end.saturating_sub(self.bytes.len());
        if chunk.len() <= room {
            self.bytes.extend_from_slice(chunk);
            return Ok(chunk.len());
        }
        // Keep what fits, up to a character boundary: `valid_up_to` is one even if the chunk
        // were not UTF-8 at all.
        let fits = match std::str::from_utf8(&chunk[..room]) {
            Ok(_) => room,
            Err(e) => e.valid_up_to(),
        };
        self.bytes.extend_from_slice(&chunk[..fits]);
        *self.cut = true;
        Err(io::Error::other("field budget exceeded"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "aé✓🦀\"\\\n\u{1}z";

    fn valid(buf: &Utf8Buf) -> &str {
        std::str::from_utf8(&buf.bytes).expect("buffer holds UTF-8")
    }

    #[test]
    fn every_writer_keeps_utf8() {
        let mut buf = Utf8Buf::default();
        buf.push('é');
        buf.push('"');
        buf.push_str(TEXT);
        buf.push_escaped(TEXT);
        let mut cut = false;
        buf.serialize(&(TEXT, 1.5, [TEXT]), usize::MAX, &StackGuard::here(), &mut cut).unwrap();
        assert!(!cut);
        assert_eq!(valid(&buf), buf.as_str());
        assert!(buf.as_str().ends_with(&serde_json::to_string(&(TEXT, 1.5, [TEXT])).unwrap()));
    }

    #[test]
    fn cuts_land_on_character_boundaries() {
        for len in 0..=TEXT.len() + 1 {
            let mut buf = Utf8Buf::default();
            buf.push_str(TEXT);
            buf.truncate(len);
            assert!(TEXT.starts_with(valid(&buf)), "{len}");
            assert!(buf.len() <= len && buf.len() + 4 > len.min(TEXT.len()));
        }
    }

    #[test]
    fn a_serialization_cut_anywhere_keeps_utf8() {
        let full = serde_json::to_string(&[TEXT, TEXT]).unwrap();
        for end in 0..=full.len() {
            let mut buf = Utf8Buf::default();
            let mut cut = false;
            let result = buf.serialize(&[TEXT, TEXT], end, &StackGuard::here(), &mut cut);
            assert_eq!(result.is_err(), end < full.len(), "{end}");
            assert_eq!(cut, end < full.len());
            assert!(full.starts_with(valid(&buf)) && buf.len() <= end, "{end}");
        }
    }

    #[test]
    fn string_content_cuts_never_split_an_escape() {
        let full = serde_json::to_string(TEXT).unwrap();
        for end in 1..=full.len() {
            let mut buf = Utf8Buf::default();
            buf.push_str(&full[..full.len() - 1]); // without the closing quote
            buf.cut_string_content(1, end);
            buf.push('"');
            let back: String = serde_json::from_str(valid(&buf)).expect("valid JSON string");
            assert!(TEXT.starts_with(&back), "{end}: {back:?}");
            assert!(buf.len() <= end.max(1) + 1);
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not UTF-8")]
    fn the_debug_check_catches_a_broken_invariant() {
        // Only this module can do this; the check is what would catch such a bug in it.
        let buf = Utf8Buf { bytes: vec![b'a', 0xe2, 0x9c] };
        let _ = buf.into_string();
    }
}
