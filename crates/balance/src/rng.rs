//! A small per-thread generator for `balance random`: not cryptographic, only
//! well spread and without a lock or a dependency.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static SEEDS: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = SEEDS.fetch_add(0x6a09_e667_f3bc_c909, Ordering::Relaxed);
    splitmix(t ^ n) | 1
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

/// The next pseudo-random 32-bit value of this thread (xorshift64*).
pub(crate) fn next_u32() -> u32 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    })
}
