//! JSON string escaping, sixteen bytes at a time: the same output as `serde_json`, several
//! times faster on the long, mostly plain text of prompts and completions.
//!
//! A byte needs escaping when it is a control character (< 0x20), `"` or `\`. On x86_64 each
//! 16-byte block is tested for those with three SSE2 compares (part of the x86_64 baseline, so
//! no runtime detection), and the first match is found from the compare mask; elsewhere, and
//! for the last few bytes, each 8-byte word is tested with the "has a byte less than / equal
//! to" bit tricks and only a word that has one is looked at byte by byte. Runs without an
//! escape are copied whole. Bytes of multi-byte UTF-8 sequences are all ≥ 0x80, so they never
//! match and are copied untouched.

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` is < 0x20, `"` or `\`. Never misses one (a borrow between bytes
/// can only add a false alarm, which the byte-by-byte pass then ignores).
#[inline]
fn has_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(LOW_BITS * 0x20) & !word;
    let quote = word ^ (LOW_BITS * u64::from(b'"'));
    let backslash = word ^ (LOW_BITS * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(LOW_BITS) & !quote;
    let is_backslash = backslash.wrapping_sub(LOW_BITS) & !backslash;
    (below_space | is_quote | is_backslash) & HIGH_BITS != 0
}

/// For each byte, how `serde_json` escapes it: 0 for "not at all", `u` for `\u00XX`, else the
/// letter after the backslash.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

#[cold]
fn write_escape(out: &mut Vec<u8>, byte: u8, code: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if code == b'u' {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', code]);
    }
}

/// Whether `bytes` (a short text) needs no escaping, tested a word at a time: two overlapping
/// words cover 4 to 16 bytes, and shorter texts are padded with spaces.
#[inline]
pub(crate) fn is_plain_short(bytes: &[u8]) -> bool {
    let len = bytes.len();
    // Always in range below; a missing word would read as spaces (plain).
    let word = |at: usize| {
        bytes
            .get(at..)
            .and_then(<[u8]>::first_chunk)
            .map_or(LOW_BITS * 0x20, |w| u64::from_le_bytes(*w))
    };
    let half = |at: usize| {
        bytes
            .get(at..)
            .and_then(<[u8]>::first_chunk)
            .map_or(0x2020_2020, |w| u32::from_le_bytes(*w))
    };
    match len {
        0 => true,
        1..=3 => {
            let padded = [bytes[0], bytes[len / 2], bytes[len - 1], b' ', b' ', b' ', b' ', b' '];
            !has_escape(u64::from_le_bytes(padded))
        }
        4..=7 => !has_escape(u64::from(half(0)) | u64::from(half(len - 4)) << 32),
        8..=16 => !has_escape(word(0)) && !has_escape(word(len - 8)),
        _ => bytes.iter().all(|&b| ESCAPE[usize::from(b)] == 0),
    }
}

/// Appends `text` escaped for the inside of a JSON string (no surrounding quotes).
pub(crate) fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    // Bytes before `start` are written; bytes before `i` are checked.
    let mut start = 0;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let mask = sse2::escapes(block);
        if mask == 0 {
            i += 16;
            continue;
        }
        let at = i + mask.trailing_zeros() as usize;
        out.extend_from_slice(&bytes[start..at]);
        write_escape(out, bytes[at], ESCAPE[usize::from(bytes[at])]);
        start = at + 1;
        i = at + 1;
    }
    escape_words(out, bytes, start, i);
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Bit `k` set when byte `k` of `block` needs escaping (< 0x20, `"` or `\`).
    #[inline(always)]
    pub(super) fn escapes(block: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions exist on every
        // CPU the crate runs on; `block` is 16 readable bytes and `loadu` has no alignment
        // requirement.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `v <= 0x1f` is `max(v, 0x1f) == 0x1f` (SSE2 has no unsigned compare;
            // the signed one would flag every byte ≥ 0x80, i.e. all non-ASCII text).
            let limit = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }
}

/// [`escape_into`] from byte `i` on, eight bytes at a time, with `bytes[..start]` written.
fn escape_words(out: &mut Vec<u8>, bytes: &[u8], mut start: usize, mut i: usize) {
    while i < bytes.len() {
        // Skip whole words that need nothing; look at single bytes only near an escape.
        if let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>)
            && !has_escape(u64::from_le_bytes(*word))
        {
            i += 8;
            continue;
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let code = ESCAPE[usize::from(bytes[i])];
            if code != 0 {
                out.extend_from_slice(&bytes[start..i]);
                write_escape(out, bytes[i], code);
                start = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = vec![b'"'];
        escape_into(&mut out, text);
        out.push(b'"');
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    fn check(text: &str) {
        assert_eq!(escaped(text), serde_json::to_string(text).unwrap(), "{text:?}");
    }

    #[test]
    fn short_texts_are_plain_exactly_when_nothing_is_escaped() {
        for b in (0u8..0x80).chain([0xc3, 0xa9, 0xe2, 0x9c, 0x93]) {
            for len in 0..=20 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let plain = bytes.iter().all(|&b| ESCAPE[usize::from(b)] == 0);
                    assert_eq!(is_plain_short(&bytes), plain, "{b:#x} at {at} of {len}");
                }
            }
        }
        assert!(is_plain_short(b"") && is_plain_short("é✓".as_bytes()));
    }

    #[test]
    fn every_ascii_character_alone_and_in_every_word_position() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            check(&c.to_string());
            // Past 32: two 16-byte blocks, then the word and byte tail, at every position.
            for len in 1..40 {
                for at in 0..len {
                    let text: String = (0..len).map(|i| if i == at { c } else { 'a' }).collect();
                    check(&text);
                }
            }
        }
    }

    #[test]
    fn multi_byte_text_and_mixtures() {
        for text in [
            "",
            "plain ASCII text that is long enough to span several words",
            "ünïcödé ✓ 🦀 and \"quotes\" and \\backslashes\\ and \n newlines \t tabs",
            "\u{7f}\u{80}\u{ff}\u{100}\u{2028}\u{2029}\u{fffd}",
            "\u{0}\u{1}\u{1f} \u{8}\u{c}",
            "\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\",
        ] {
            check(text);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_block_test_flags_exactly_the_bytes_that_need_escaping() {
        for b in 0..=255u8 {
            for at in 0..16 {
                let mut block = [b'a'; 16];
                block[at] = b;
                let expected = if ESCAPE[usize::from(b)] != 0 { 1 << at } else { 0 };
                assert_eq!(sse2::escapes(&block), expected, "byte {b:#04x} at {at}");
            }
        }
    }

    #[test]
    fn the_word_test_never_misses_an_escape() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1_000_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Bias bytes towards the interesting values: escapes, their neighbours, 0x80+.
            let word = u64::from_le_bytes(state.to_le_bytes().map(|b| match b % 4 {
                0 => b & 0x3f,
                1 => b'"' + (b >> 7),
                _ => b,
            }));
            let scalar = word.to_le_bytes().iter().any(|&b| ESCAPE[usize::from(b)] != 0);
            if scalar {
                assert!(has_escape(word), "{word:#018x}");
            }
        }
    }

    #[test]
    fn pseudo_random_strings_match_serde_json() {
        let alphabet: Vec<char> = "ab \"\\\n\t\u{1}\u{1f}é🦀\u{7f}~".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 64) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i) % alphabet.len()])
                .collect();
            check(&text);
        }
    }
}
