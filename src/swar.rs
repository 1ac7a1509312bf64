//! Eight bytes at a time ("SWAR": SIMD within a register): the constants and byte-lane tests
//! that the text scanners share — JSON string escaping, the sentiment tokenizer, the
//! fingerprint and the taxonomy's start filter all read text as little-endian `u64` words.

/// The byte 0x01 in every lane.
pub const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of every lane.
pub const HIGH: u64 = 0x8080_8080_8080_8080;

/// The byte `b` in every lane.
pub const fn splat(b: u8) -> u64 {
    ONES * b as u64
}

/// 0x80 in the lanes of `x` that are zero. Exact up to the first zero lane: the borrow of the
/// subtraction may also flag lanes above it, so callers use only whether any lane is flagged,
/// or the lowest one.
#[inline(always)]
pub fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Whether `bytes` holds a byte of 0xE3 or above: a UTF-8 lead byte of a character from
/// U+3000 up, where the Chinese, Japanese and Korean scripts are (typographic punctuation, lead
/// byte 0xE2, does not count). Stages that treat those scripts apart run this first.
pub fn may_hold_cjk(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A lane ≥ 0xE3: its high bit set and its low seven bits ≥ 0x63 (adding 0x1D carries
        // into bit 7, never across lanes since the low bits are at most 0x7F + 0x1D).
        if x & ((x & !HIGH).wrapping_add(splat(0x1D))) & HIGH != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b >= 0xE3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_flagged_lane_is_the_first_zero_byte() {
        for zero_at in 0..8 {
            let x = u64::from_le_bytes(*b"abcdefgh") & !(0xff << (8 * zero_at));
            assert_eq!(zero_bytes(x).trailing_zeros() / 8, zero_at);
        }
        assert_eq!(zero_bytes(u64::from_le_bytes(*b"no zeros")), 0);
        assert_eq!(splat(b'"'), u64::from_le_bytes([b'"'; 8]));
    }

    #[test]
    fn cjk_lead_bytes_are_found_in_every_lane() {
        for b in 0..=255u8 {
            for len in 1..=17 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(may_hold_cjk(&bytes), b >= 0xE3, "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(!may_hold_cjk("“quoted” – dash…".as_bytes()));
        assert!(may_hold_cjk("台湾".as_bytes()) && may_hold_cjk("대만".as_bytes()));
    }
}
