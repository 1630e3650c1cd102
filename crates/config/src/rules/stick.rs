//! Stick-table fetch names (`sc_*`, `scN_*`, `src_*`; configuration.txt §7.3.3):
//! which exist, which entry they read, and how many arguments they take.

use super::sample::{FetchDef, SmpType};

/// Stick-table counters readable with `sc_*`, `scN_*` and `src_*` fetches
/// (configuration.txt §7.3.3; `tracked`/`trackers` are `sc*` only,
/// `updt_conn_cnt` is `src_*` only).
pub const STICK_COUNTERS: &[&str] = &[
    "conn_cnt",
    "conn_cur",
    "conn_rate",
    "sess_cnt",
    "sess_rate",
    "http_req_cnt",
    "http_req_rate",
    "http_err_cnt",
    "http_err_rate",
    "http_fail_cnt",
    "http_fail_rate",
    "bytes_in_rate",
    "bytes_out_rate",
    "kbytes_in",
    "kbytes_out",
    "get_gpc0",
    "get_gpc1",
    "gpc0_rate",
    "gpc1_rate",
    "inc_gpc0",
    "inc_gpc1",
    "clr_gpc0",
    "clr_gpc1",
    "get_gpt0",
    "updt_conn_cnt",
    "trackers",
    "tracked",
];

/// The array forms whose first argument is an index: `sc_get_gpc(IDX,CTR[,TABLE])`.
pub const STICK_INDEXED: &[&str] = &["get_gpc", "gpc_rate", "inc_gpc", "clr_gpc", "get_gpt"];

/// Which tracked entry a stick-counter fetch reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StickSource {
    /// `sc_X(N)` / `scN_X`: the entry tracked by `track-scN`.
    Tracked(u8),
    /// `sc_X(N)` with N given as the first argument.
    TrackedArg,
    /// `src_X`: the entry keyed by the client address.
    Src,
}

/// `sc_http_req_rate`, `sc0_conn_cur`, `src_conn_rate` … → (source, counter).
pub fn stick_fetch(name: &str) -> Option<(StickSource, &str)> {
    let (source, counter) = if let Some(c) = name.strip_prefix("src_") {
        (StickSource::Src, c)
    } else if let Some(c) = name.strip_prefix("sc_") {
        (StickSource::TrackedArg, c)
    } else {
        let rest = name.strip_prefix("sc")?;
        let (n, c) = rest.split_once('_')?;
        // HAProxy's default `tune.stick-counters`: sc0 to sc2.
        let n: u8 = n.parse().ok().filter(|n| *n < 3)?;
        (StickSource::Tracked(n), c)
    };
    let known = STICK_COUNTERS.contains(&counter) || STICK_INDEXED.contains(&counter);
    let fits = match counter {
        "tracked" | "trackers" => source != StickSource::Src,
        "updt_conn_cnt" => source == StickSource::Src,
        _ => true,
    };
    (known && fits).then_some((source, counter))
}

/// Argument count bounds of a stick-counter fetch: the counter number (`sc_*`),
/// the index (array forms), then an optional table.
pub(crate) fn stick_arity(source: StickSource, counter: &str) -> (usize, usize) {
    let fixed = usize::from(source == StickSource::TrackedArg)
        + usize::from(STICK_INDEXED.contains(&counter));
    (fixed, fixed + 1)
}

/// Every stick-table fetch name, for "did you mean".
pub(crate) fn stick_names() -> Vec<String> {
    let mut out = vec!["table_cnt".to_string(), "table_avl".to_string()];
    for c in STICK_COUNTERS.iter().chain(STICK_INDEXED) {
        for p in ["sc_", "sc0_", "sc1_", "sc2_", "src_"] {
            let n = format!("{p}{c}");
            if stick_fetch(&n).is_some() {
                out.push(n);
            }
        }
    }
    out
}

const STICK_INT: FetchDef = FetchDef {
    name: "sc_*",
    min_args: 0,
    max_args: 3,
    out: SmpType::Int,
};
const STICK_BOOL: FetchDef = FetchDef {
    name: "sc_*_tracked",
    min_args: 0,
    max_args: 2,
    out: SmpType::Bool,
};

/// The output type of a stick counter (`*_tracked` is a boolean).
pub(crate) fn stick_def(counter: &str) -> &'static FetchDef {
    if counter == "tracked" {
        &STICK_BOOL
    } else {
        &STICK_INT
    }
}
