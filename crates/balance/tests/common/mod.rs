#![allow(dead_code)]

use fulcrum_balance::{BalanceAlgo, BalanceOptions, Balancer, RequestKey, ServerState};
use std::sync::Arc;

/// Servers with ids 1.. and the given weights, all active.
pub fn servers(weights: &[u32]) -> Vec<Arc<ServerState>> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Arc::new(ServerState::new(i as u32 + 1, w, false)))
        .collect()
}

pub fn balancer(algo: BalanceAlgo, weights: &[u32]) -> Balancer {
    Balancer::new(algo, BalanceOptions::default(), servers(weights)).unwrap()
}

pub fn picks(b: &Balancer, n: usize) -> Vec<usize> {
    (0..n)
        .map(|_| b.select(&RequestKey::default()).unwrap())
        .collect()
}

pub fn counts(seq: &[usize], n: usize) -> Vec<u32> {
    let mut c = vec![0; n];
    for &i in seq {
        c[i] += 1;
    }
    c
}
