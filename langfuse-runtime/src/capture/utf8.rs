//! The capture buffer, whose bytes are valid UTF-8 at every step, so that it becomes a
//! `String` without a second pass over the text.
//!
//! The invariant is kept by construction: the bytes are private to this module and every
//! method appends or keeps only whole UTF-8 sequences — whole `str`s and `char`s, the escaper's
//! output (it cuts `str`s only before ASCII bytes), serde_json's output (which writes whole
//! `str` fragments, ASCII numbers and punctuation: serde_json's own `to_string` relies on the
//! same fact), and cuts rounded down to a character boundary. Debug builds re-check the whole
//! buffer whenever it is read as text, which the unit tests below exercise.
//!
//! A capture starts in a small array inside the buffer itself and moves to a heap buffer
//! (recycled, [`crate::recycle`]) only when it outgrows it. Most calls capture small values
//! (`{"a":1,"b":2}`, `3`): those never touch a heap buffer or a thread-local, and end as an
//! inline [`CompactText`]. Writers that need a `Vec` (serde, the escaper, cuts) move the text
//! to the heap first.

use std::io;

use super::isolate::StackGuard;
use crate::payload::{CompactText, INLINE_CAPACITY};

/// Bytes of UTF-8 text (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Utf8Buf {
    /// The text once it is on the heap; until then no buffer (capacity 0), and the text is
    /// `inline[..inline_len]`. A heap buffer always has capacity ([`crate::recycle::buffer`]).
    heap: Vec<u8>,
    inline_len: u8,
    /// At most `INLINE_CAPACITY` bytes of text, and room past them for a whole small integer
    /// written at once ([`Utf8Buf::push_small_integer`]).
    inline: [u8; INLINE_CAPACITY + INTEGER_SLACK],
}

/// What [`Utf8Buf::push_small_integer`] may write past the text's inline room.
const INTEGER_SLACK: usize = 3;

impl Utf8Buf {
    #[inline(always)]
    fn on_heap(&self) -> bool {
        self.heap.capacity() != 0
    }

    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        if self.on_heap() { self.heap.len() } else { usize::from(self.inline_len) }
    }

    #[inline(always)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.on_heap() { &self.heap } else { &self.inline[..usize::from(self.inline_len)] }
    }

    #[inline(always)]
    pub(crate) fn as_str(&self) -> &str {
        let bytes = self.as_bytes();
        debug_assert!(std::str::from_utf8(bytes).is_ok(), "capture buffer is not UTF-8");
        // SAFETY: the module's invariant (see the module docs).
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The heap buffer, the text moved into it first if it was inline, with room for
    /// `additional` more bytes.
    #[inline(never)]
    fn heap(&mut self, additional: usize) -> &mut Vec<u8> {
        if !self.on_heap() {
            let len = usize::from(self.inline_len);
            let mut heap = crate::recycle::buffer(len + additional);
            // The whole array, then cut: a copy of fixed size is a few moves, not a `memcpy`.
            heap.extend_from_slice(&self.inline);
            heap.truncate(len);
            self.heap = heap;
        } else {
            self.heap.reserve(additional);
        }
        &mut self.heap
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, c: char) {
        if c.is_ascii() {
            self.push_bytes(&[c as u8]);
        } else {
            self.push_str(c.encode_utf8(&mut [0; 4]));
        }
    }

    #[inline(always)]
    pub(crate) fn push_str(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// Whole UTF-8 sequences only (see the module docs).
    #[inline(always)]
    fn push_bytes(&mut self, bytes: &[u8]) {
        if !self.on_heap() {
            let len = usize::from(self.inline_len);
            if len + bytes.len() <= INLINE_CAPACITY {
                self.inline[len..len + bytes.len()].copy_from_slice(bytes);
                self.inline_len = (len + bytes.len()) as u8;
                return;
            }
        }
        self.heap(bytes.len()).extend_from_slice(bytes);
    }

    /// Appends `value` (< 10,000) in decimal, as four bytes stored at once and counted by its
    /// digits: the bytes past the text in the inline array are not part of it.
    #[inline(always)]
    pub(crate) fn push_small_integer(&mut self, value: u16) {
        debug_assert!(value < 10_000);
        let n = usize::from(value);
        // Composed in a register, not as a byte array: four single-byte stores read back as
        // one 4-byte load cannot be store-forwarded, a stall that was ~15 % of row A's
        // `enter_recording` (perf annotate).
        let (digits, len) = if n < 10 {
            (u32::from(b'0') + n as u32, 1)
        } else if n < 100 {
            (u32::from(PAIRS[n]), 2)
        } else {
            let (hi, lo) = (n / 100, n % 100);
            if hi < 10 {
                ((u32::from(b'0') + hi as u32) | u32::from(PAIRS[lo]) << 8, 3)
            } else {
                (u32::from(PAIRS[hi]) | u32::from(PAIRS[lo]) << 16, 4)
            }
        };
        let digits = digits.to_le_bytes();
        if !self.on_heap() {
            let at = usize::from(self.inline_len);
            if at + len <= INLINE_CAPACITY {
                // `at + 4 <= INLINE_CAPACITY + INTEGER_SLACK`, as `len >= 1`.
                self.inline[at..at + 4].copy_from_slice(&digits);
                self.inline_len = (at + len) as u8;
                return;
            }
        }
        self.push_bytes(&digits[..len]);
    }

    /// Appends `text` escaped for the inside of a JSON string.
    #[inline]
    pub(crate) fn push_escaped(&mut self, text: &str) {
        // A short argument (a name, an id) that needs no escape stays inline, if its closing
        // quote fits too (else the text moves to the heap anyway: no point testing it).
        if !self.on_heap()
            && usize::from(self.inline_len) + text.len() < INLINE_CAPACITY
            && crate::escape::is_plain_short(text.as_bytes())
        {
            self.push_str(text);
            return;
        }
        crate::escape::escape_into(self.heap(text.len()), text);
    }

    #[inline]
    pub(crate) fn reserve(&mut self, additional: usize) {
        if self.on_heap() {
            self.heap.reserve(additional);
        } else if usize::from(self.inline_len) + additional > INLINE_CAPACITY {
            self.heap(additional);
        }
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
        self.inline_len = 0;
    }

    /// Shortens the text to at most `len` bytes, rounded down to a character boundary.
    pub(crate) fn truncate(&mut self, len: usize) {
        let len = floor_char_boundary(self.as_str(), len);
        if self.on_heap() {
            self.heap.truncate(len);
        } else {
            self.inline_len = len as u8;
        }
    }

    /// Cuts the inside of a JSON string that starts at `content_start` to at most `end`
    /// bytes of buffer, never inside a character or an escape sequence, so that closing the
    /// string afterwards yields valid JSON.
    pub(crate) fn cut_string_content(&mut self, content_start: usize, end: usize) {
        let bytes = self.as_bytes();
        let limit = end.min(bytes.len());
        let mut i = content_start;
        while i < limit {
            let step = match bytes[i] {
                b'\\' if bytes.get(i + 1) == Some(&b'u') => 6,
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
        if i < bytes.len() {
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
        let bytes = self.heap(0);
        let start = bytes.len();
        let result = serde_json::to_writer(Sink { bytes: &mut *bytes, end, guard, cut }, value);
        debug_assert!(std::str::from_utf8(&bytes[start..]).is_ok());
        result
    }

    /// The text in a buffer of its own: the heap buffer (recycled, if the text was inline).
    #[inline]
    pub(crate) fn into_string(mut self) -> String {
        let bytes = std::mem::take(self.heap(0));
        debug_assert!(std::str::from_utf8(&bytes).is_ok(), "capture buffer is not UTF-8");
        // SAFETY: the module's invariant (see the module docs).
        unsafe { String::from_utf8_unchecked(bytes) }
    }

    /// [`Utf8Buf::into_compact`] through a reference, leaving the buffer empty: the text is
    /// read where it was written, not first moved with the buffer.
    #[inline(always)]
    pub(crate) fn take_compact(&mut self) -> CompactText {
        std::mem::take(self).into_compact()
    }

    /// The text, inline when short, else in the heap buffer.
    #[inline(always)]
    pub(crate) fn into_compact(self) -> CompactText {
        if !self.on_heap() {
            let mut bytes = [0; INLINE_CAPACITY];
            bytes.copy_from_slice(&self.inline[..INLINE_CAPACITY]);
            debug_assert!(std::str::from_utf8(self.as_bytes()).is_ok());
            // SAFETY: inline, the text is `inline[..inline_len]` with `inline_len <=
            // INLINE_CAPACITY`, valid UTF-8 by the module's invariant.
            return unsafe { CompactText::from_inline_unchecked(bytes, self.inline_len) };
        }
        match CompactText::inline(self.as_str()) {
            // Grew on the heap, then was cut or is short anyway: the buffer stays on this
            // thread for the next capture that outgrows the inline start.
            Some(text) => {
                crate::recycle::keep(self.heap);
                text
            }
            None => CompactText::heap(self.into_string()),
        }
    }
}

/// The decimal digits of 0 to 99, two bytes each, as the little-endian `u16` that stores them.
const PAIRS: [u16; 100] = {
    let mut pairs = [0u16; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = u16::from_le_bytes([b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
        n += 1;
    }
    pairs
};

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
        std::str::from_utf8(buf.as_bytes()).expect("buffer holds UTF-8")
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
    fn small_integers_match_the_general_formatting_inline_and_on_the_heap() {
        for n in 0..10_000u16 {
            let mut inline = Utf8Buf::default();
            inline.push_small_integer(n);
            assert_eq!(inline.as_str(), n.to_string());
            assert!(!inline.on_heap());
            // Where four bytes no longer fit inline, and after the text moved to the heap.
            let mut edge = Utf8Buf::default();
            edge.push_str("0123456789ab");
            edge.push_small_integer(n);
            edge.push_small_integer(n);
            assert_eq!(edge.as_str(), format!("0123456789ab{n}{n}"));
        }
    }

    #[test]
    fn a_text_moves_to_the_heap_exactly_when_it_outgrows_the_inline_array() {
        let mut buf = Utf8Buf::default();
        buf.push('{');
        buf.push_str("\"abcdefghijk\"");
        assert!(!buf.on_heap() && buf.len() == INLINE_CAPACITY - 1);
        buf.push('✓'); // three bytes: no longer fit
        assert!(buf.on_heap());
        buf.push('}');
        assert_eq!(buf.as_str(), "{\"abcdefghijk\"✓}");
        buf.clear();
        assert_eq!((buf.len(), buf.as_str()), (0, ""));
        buf.push_str("[1]");
        assert_eq!(buf.into_compact().as_str(), "[1]");
        let mut long = Utf8Buf::default();
        long.push_str("[1234567890,1234567890]");
        assert_eq!(long.into_compact().into_buffer().as_deref(), Some("[1234567890,1234567890]"));
        let mut short = Utf8Buf::default();
        short.push_str("é✓");
        short.truncate(3);
        assert_eq!(short.as_str(), "é", "an inline cut lands on a character boundary too");
        assert_eq!(short.into_string(), "é");
    }

    #[test]
    fn short_plain_strings_stay_inline_and_escape_like_the_escaper() {
        for text in
            ["", "hi", "é✓", "a\"b", "tab\t", "\\", "\u{1f}", "fourteen bytes", "fifteen bytes!!"]
        {
            let mut buf = Utf8Buf::default();
            buf.push_escaped(text);
            let mut expected = Vec::new();
            crate::escape::escape_into(&mut expected, text);
            assert_eq!(buf.as_bytes(), expected, "{text:?}");
            let plain = expected.len() == text.len();
            assert_eq!(buf.on_heap(), !plain || text.len() >= INLINE_CAPACITY, "{text:?}");
        }
    }

    #[test]
    fn every_writer_keeps_utf8_from_an_inline_start() {
        let mut buf = Utf8Buf::default();
        buf.push('"');
        buf.push_escaped("a\n");
        buf.push('"');
        assert_eq!(buf.as_str(), "\"a\\n\"");
        let mut cut = false;
        let mut ser = Utf8Buf::default();
        ser.push('[');
        ser.serialize(&1.5, usize::MAX, &StackGuard::here(), &mut cut).unwrap();
        ser.push(']');
        assert_eq!(ser.as_str(), "[1.5]");
        ser.reserve(100);
        assert!(ser.on_heap() && ser.as_str() == "[1.5]");
        let mut reserved = Utf8Buf::default();
        reserved.reserve(100);
        reserved.push('x');
        assert!(reserved.on_heap() && reserved.as_str() == "x");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not UTF-8")]
    fn the_debug_check_catches_a_broken_invariant() {
        // Only this module can do this; the check is what would catch such a bug in it.
        let buf = Utf8Buf { heap: vec![b'a', 0xe2, 0x9c], ..Utf8Buf::default() };
        let _ = buf.into_string();
    }
}
