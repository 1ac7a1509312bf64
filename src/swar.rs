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
}
