//! Pure pieces of check scheduling: `spread-checks` jitter and the
//! `http-check send-state` header value.

use crate::state::{Health, Phase};
use std::time::Duration;

/// `spread-checks P`: the interval `d` moved by a random amount within
/// ±P% (P capped at 50, as HAProxy does). `seed` is a xorshift state
/// (nonzero); the jitter needs spreading, not quality.
pub fn jitter(d: Duration, spread: u32, seed: &mut u64) -> Duration {
    if spread == 0 {
        return d;
    }
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    // Absurd intervals are capped so the arithmetic cannot overflow.
    let ms = u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(u64::MAX / 4);
    let rv = ms / 100 * u64::from(spread.min(50)) + ms % 100 * u64::from(spread.min(50)) / 100;
    let off = *seed % (2 * rv + 1);
    Duration::from_millis((ms + rv).saturating_sub(off))
}

/// A nonzero xorshift seed, different per server and per run.
pub fn seed(i: usize) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    (t ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1
}

/// What `X-Haproxy-Server-State` reports about one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStateInfo<'a> {
    /// The server's check counter.
    pub check: Health,
    /// Operationally up.
    pub up: bool,
    /// `disable-on-404` answered 404: NOLB.
    pub nolb: bool,
    pub address: String,
    pub port: u16,
    pub backend: &'a str,
    pub server: &'a str,
    pub node: &'a str,
    pub weight: u32,
    /// Sum of the usable servers' weights in the backend.
    pub total_weight: u32,
    pub scur: u32,
    /// Connections on the whole backend.
    pub backend_cur: u32,
    pub qcur: u32,
    /// `slowstart` still ramping: (time since UP, slowstart).
    pub warming: Option<(Duration, Duration)>,
}

/// The header value, in HAProxy's format:
/// `UP 2/3; address=10.0.0.1; port=80; name=bk/srv; node=lb1; weight=1/2;
/// scur=13/22; qcur=0[; throttle=N%]`.
pub fn server_state_value(s: &ServerStateInfo) -> String {
    let (n, m) = s.check.progress();
    let full = matches!(s.check.phase(), Phase::Up | Phase::Down);
    let word = match (s.up, s.nolb) {
        (false, _) => "DOWN",
        (true, false) => "UP",
        (true, true) => "NOLB",
    };
    let mut out = if full {
        word.to_string()
    } else {
        format!("{word} {n}/{m}")
    };
    out.push_str(&format!(
        "; address={}; port={}; name={}/{}; node={}; weight={}/{}; scur={}/{}; qcur={}",
        s.address,
        s.port,
        s.backend,
        s.server,
        s.node,
        s.weight,
        s.total_weight,
        s.scur,
        s.backend_cur,
        s.qcur
    ));
    if let Some((since, ss)) = s.warming.filter(|(since, ss)| since < ss && !ss.is_zero()) {
        let ratio = (100 * since.as_millis() / ss.as_millis()).max(1);
        out.push_str(&format!("; throttle={ratio}%"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Verdict;
    use fulcrum_config::model::check::InitState;
    use proptest::prelude::*;
    use std::time::Instant;

    fn info(check: Health, up: bool, nolb: bool) -> ServerStateInfo<'static> {
        ServerStateInfo {
            check,
            up,
            nolb,
            address: "127.0.0.1".into(),
            port: 8080,
            backend: "bck",
            server: "srv2",
            node: "lb1",
            weight: 1,
            total_weight: 2,
            scur: 13,
            backend_cur: 22,
            qcur: 0,
            warming: None,
        }
    }

    #[test]
    fn header_reads_like_haproxys_example() {
        let mut h = Health::new(2, 3, InitState::FullyUp);
        h.record(Verdict::Failed, Instant::now());
        assert_eq!(
            server_state_value(&info(h, true, false)),
            "UP 2/3; address=127.0.0.1; port=8080; name=bck/srv2; node=lb1; weight=1/2; scur=13/22; qcur=0"
        );
        let full = Health::new(2, 3, InitState::FullyUp);
        assert!(server_state_value(&info(full, true, false)).starts_with("UP; address="));
        assert!(server_state_value(&info(full, true, true)).starts_with("NOLB; "));
        assert!(server_state_value(&info(h, true, true)).starts_with("NOLB 2/3; "));
        let mut down = Health::new(3, 2, InitState::FullyDown);
        assert!(server_state_value(&info(down, false, false)).starts_with("DOWN; "));
        down.record(Verdict::Passed, Instant::now());
        assert!(server_state_value(&info(down, false, false)).starts_with("DOWN 1/3; "));
    }

    #[test]
    fn warming_servers_report_their_throttle() {
        let mut i = info(Health::new(2, 3, InitState::FullyUp), true, false);
        i.warming = Some((Duration::from_secs(15), Duration::from_secs(60)));
        assert!(server_state_value(&i).ends_with("; qcur=0; throttle=25%"));
        i.warming = Some((Duration::from_millis(1), Duration::from_secs(60)));
        assert!(server_state_value(&i).ends_with("; throttle=1%"));
        i.warming = Some((Duration::from_secs(60), Duration::from_secs(60)));
        assert!(server_state_value(&i).ends_with("; qcur=0"));
    }

    #[test]
    fn no_spread_keeps_the_interval() {
        let mut s = seed(1);
        assert_eq!(
            jitter(Duration::from_millis(1000), 0, &mut s),
            Duration::from_millis(1000)
        );
    }

    proptest! {
        #[test]
        fn jitter_stays_within_the_spread(ms in 0u64..10_000_000, spread in 0u32..200,
                                          seed0 in 1u64..u64::MAX) {
            let mut s = seed0;
            let p = u64::from(spread.min(50));
            let rv = ms * p / 100;
            for _ in 0..20 {
                let d = jitter(Duration::from_millis(ms), spread, &mut s).as_millis() as u64;
                prop_assert!(d + rv >= ms && d <= ms + rv, "{} not within {}±{}", d, ms, rv);
            }
        }

        #[test]
        fn jitter_spreads_both_ways(seed0 in 1u64..u64::MAX) {
            let mut s = seed0;
            let v: Vec<u64> = (0..200)
                .map(|_| jitter(Duration::from_millis(1000), 50, &mut s).as_millis() as u64)
                .collect();
            prop_assert!(v.iter().any(|&d| d < 900) && v.iter().any(|&d| d > 1100));
        }
    }
}
