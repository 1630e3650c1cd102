//! HAProxy's key hash functions (`hash-type ... sdbm|djb2|wt6|crc32|none [avalanche]`).
//!
//! They must give HAProxy's exact 32-bit values: a hash-based `balance` maps a key
//! to a server through them, and a migrating user expects every key to keep its
//! server.

use crate::algo::{HashFunction, HashType};

/// `sdbm`: HAProxy's default key hash.
pub fn sdbm(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |h, &c| {
        u32::from(c)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

/// `djb2`: `h = h * 33 + c`, starting at 5381.
pub fn djb2(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// `wt6`: two rotating registers whose rotation steps depend on the data.
pub fn wt6(key: &[u8]) -> u32 {
    let (mut h0, mut h1) = (0xa53c_965a_u32, 0x5ca6_953a_u32);
    let (mut step0, mut step1) = (6u32, 18u32);
    for &c in key {
        let t = u32::from(c);
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        // A zero step rotates by nothing, as HAProxy's shifts do on x86.
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

/// `crc32`: the IEEE CRC-32 (reflected polynomial 0xedb88320), as zlib computes it.
pub fn crc32(key: &[u8]) -> u32 {
    let mut h = !0u32;
    for &c in key {
        h ^= u32::from(c);
        for _ in 0..8 {
            h = (h >> 1) ^ if h & 1 != 0 { 0xedb8_8320 } else { 0 };
        }
    }
    !h
}

/// `none`: the key is already a number (e.g. a converter's output); its leading
/// decimal integer, truncated to 32 bits, is the hash.
pub fn none(key: &[u8]) -> u32 {
    let (neg, digits) = match key.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, key),
    };
    let v = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0u64, |v, &c| {
            v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
        });
    let v = if neg { v.wrapping_neg() } else { v };
    v as u32
}

/// Bob Jenkins' 32-bit integer mix (`avalanche`, and the consistent-hash ring's
/// node positions).
pub fn full_hash(a: u32) -> u32 {
    let mut a = a;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    // HAProxy then spreads the values over the ring with a large odd factor
    // (close to 3/4 of 2^32); still a bijection.
    a.wrapping_mul(3_221_225_473)
}

/// Hashes `key` with the configured function, then `avalanche` if asked.
pub fn hash_key(ht: &HashType, key: &[u8]) -> u32 {
    let h = match ht.function {
        HashFunction::Sdbm => sdbm(key),
        HashFunction::Djb2 => djb2(key),
        HashFunction::Wt6 => wt6(key),
        HashFunction::Crc32 => crc32(key),
        HashFunction::None => none(key),
    };
    if ht.avalanche {
        full_hash(h)
    } else {
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn djb2_and_sdbm_known_values() {
        assert_eq!(djb2(b""), 5381);
        assert_eq!(djb2(b"a"), 5381 * 33 + 97);
        assert_eq!(sdbm(b"a"), 97);
        assert_eq!(
            sdbm(b"ab"),
            98u32
                .wrapping_add(97 << 6)
                .wrapping_add(97 << 16)
                .wrapping_sub(97)
        );
    }

    #[test]
    fn none_reads_the_leading_integer() {
        assert_eq!(none(b"1234abc"), 1234);
        assert_eq!(none(b"-1"), u32::MAX);
        assert_eq!(none(b"x"), 0);
        assert_eq!(none(b"4294967297"), 1);
    }

    #[test]
    fn wt6_differs_per_key_and_is_stable() {
        assert_ne!(wt6(b"a"), wt6(b"b"));
        assert_eq!(wt6(b""), 0xa53c_965a ^ 0x5ca6_953a);
    }

    #[test]
    fn full_hash_of_zero_is_fixed() {
        // Bijective mix: distinct inputs give distinct outputs.
        let v: std::collections::HashSet<u32> = (0..10_000).map(full_hash).collect();
        assert_eq!(v.len(), 10_000);
    }
}
