//! Hash functions of the `sdbm`, `djb2`, `wt6`, `crc32`, `xxh3` converters, as HAProxy defines them.
//!
//! The key hashes are HAProxy's `hash.c`, the same ones `hash-type` uses: they live once, in
//! the balance crate; only what the converters and fetches add is here.

pub(crate) use fulcrum_balance::hashes::{crc32, djb2, full_hash as avalanche, sdbm, wt6};

/// `base32`: sdbm over bytes read as C's signed `char` (HAProxy hashes the Host
/// header and path that way), then [`avalanche`].
pub(crate) fn base32(data: &[u8]) -> u32 {
    let h = data.iter().fold(0u32, |h, &c| {
        (c as i8 as u32)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    });
    avalanche(h)
}

pub(crate) fn xxh3(data: &[u8], seed: u64) -> i64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(data, seed) as i64
}

/// A per-process random number when the engine offers none: time mixed with a counter.
pub(crate) fn fallback_random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) ^ nanos;
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_reads_bytes_as_signed_chars() {
        // 0xe9 is -23 as a C char: the sum differs from the unsigned one.
        let unsigned = avalanche(sdbm(b"\xe9"));
        assert_ne!(base32(b"\xe9"), unsigned);
        assert_eq!(base32(b"a"), avalanche(sdbm(b"a")));
    }
}
