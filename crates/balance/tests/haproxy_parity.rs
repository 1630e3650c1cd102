//! Parity with a real HAProxy: for the same servers, weights and keys, every
//! hash-based algorithm must pick the server HAProxy picks, so a user who
//! migrates keeps each client where it was.
//!
//! Starts `haproxy` on 127.0.0.1 in front of tiny HTTP servers that answer
//! their own name, sends 1000 keys through it and compares with
//! [`Balancer::select`]; `static-rr` and `leastconn` orders are compared too.
//! Skipped, with a message, when haproxy is not installed.

mod haproxy;

use fulcrum_balance::{BalanceAlgo, HashFunction, HashMethod, HashType, UriOpts};
use haproxy::{parity, parity_after, Change, Input, Setup};

fn ht(method: HashMethod, function: HashFunction, avalanche: bool) -> HashType {
    HashType {
        method,
        function,
        avalanche,
    }
}
const MAP: HashMethod = HashMethod::MapBased;
const CONS: HashMethod = HashMethod::Consistent;
use HashFunction::{Crc32, Djb2, Sdbm, Wt6};

// `hash-type consistent` alone means sdbm with avalanche in HAProxy; the config
// stage sets `avalanche` accordingly (see `HashType::consistent`).
#[test]
fn source_map_based() {
    parity(
        "source",
        "map-based",
        BalanceAlgo::Source,
        ht(MAP, Sdbm, false),
        Input::Source,
    );
}
#[test]
fn source_consistent() {
    parity(
        "source",
        "consistent",
        BalanceAlgo::Source,
        ht(CONS, Sdbm, true),
        Input::Source,
    );
}
#[test]
fn uri_map_based() {
    let algo = BalanceAlgo::Uri(UriOpts::default());
    parity("uri", "map-based", algo, ht(MAP, Sdbm, false), Input::Path);
}
#[test]
fn uri_consistent() {
    let algo = BalanceAlgo::Uri(UriOpts::default());
    parity("uri", "consistent", algo, ht(CONS, Sdbm, true), Input::Path);
}
#[test]
fn uri_depth_whole_crc32_map_based() {
    let algo = BalanceAlgo::Uri(UriOpts {
        depth: Some(1),
        whole: true,
        ..UriOpts::default()
    });
    parity(
        "uri depth 1 whole",
        "map-based crc32",
        algo,
        ht(MAP, Crc32, false),
        Input::Path,
    );
}
#[test]
fn uri_len_wt6_avalanche_consistent() {
    let algo = BalanceAlgo::Uri(UriOpts {
        len: Some(12),
        whole: true,
        ..UriOpts::default()
    });
    let h = ht(CONS, Wt6, true);
    parity(
        "uri len 12 whole",
        "consistent wt6 avalanche",
        algo,
        h,
        Input::Path,
    );
}
#[test]
fn url_param_map_based() {
    let algo = BalanceAlgo::UrlParam {
        name: "id".into(),
        check_post: None,
    };
    parity(
        "url_param id",
        "map-based",
        algo,
        ht(MAP, Sdbm, false),
        Input::Path,
    );
}
#[test]
fn url_param_consistent() {
    let algo = BalanceAlgo::UrlParam {
        name: "id".into(),
        check_post: None,
    };
    parity(
        "url_param id",
        "consistent sdbm",
        algo,
        ht(CONS, Sdbm, false),
        Input::Path,
    );
}
#[test]
fn hdr_map_based() {
    let algo = BalanceAlgo::Hdr {
        name: "X-Key".into(),
        use_domain_only: false,
    };
    parity(
        "hdr(X-Key)",
        "map-based",
        algo,
        ht(MAP, Sdbm, false),
        Input::Header,
    );
}
#[test]
fn hdr_consistent() {
    let algo = BalanceAlgo::Hdr {
        name: "X-Key".into(),
        use_domain_only: false,
    };
    parity(
        "hdr(X-Key)",
        "consistent",
        algo,
        ht(CONS, Sdbm, true),
        Input::Header,
    );
}
#[test]
fn hdr_djb2_avalanche_consistent() {
    let algo = BalanceAlgo::Hdr {
        name: "x-key".into(),
        use_domain_only: false,
    };
    parity(
        "hdr(x-key)",
        "consistent djb2 avalanche",
        algo,
        ht(CONS, Djb2, true),
        Input::Header,
    );
}

#[test]
fn hdr_use_domain_only_map_based() {
    let algo = BalanceAlgo::Hdr {
        name: "X-Key".into(),
        use_domain_only: true,
    };
    let h = ht(MAP, Sdbm, false);
    parity(
        "hdr(X-Key) use_domain_only",
        "map-based",
        algo,
        h,
        Input::Domain,
    );
}
#[test]
fn uri_path_only_consistent() {
    let algo = BalanceAlgo::Uri(UriOpts {
        path_only: true,
        ..UriOpts::default()
    });
    parity(
        "uri path-only",
        "consistent",
        algo,
        ht(CONS, Sdbm, true),
        Input::Absolute,
    );
}
#[test]
fn rdp_cookie_map_based() {
    let algo = BalanceAlgo::rdp_cookie_default();
    parity(
        "rdp-cookie",
        "map-based",
        algo,
        ht(MAP, Sdbm, false),
        Input::Rdp,
    );
}
#[test]
fn rdp_cookie_consistent() {
    let algo = BalanceAlgo::rdp_cookie_default();
    parity(
        "rdp-cookie",
        "consistent",
        algo,
        ht(CONS, Sdbm, true),
        Input::Rdp,
    );
}

// Sequential requests: the order of the non-hashing algorithms is deterministic.
#[test]
fn static_rr_order() {
    parity(
        "static-rr",
        "map-based",
        BalanceAlgo::StaticRr,
        ht(MAP, Sdbm, false),
        Input::Path,
    );
}
#[test]
fn leastconn_order_among_idle_servers() {
    parity(
        "leastconn",
        "map-based",
        BalanceAlgo::LeastConn,
        ht(MAP, Sdbm, false),
        Input::Path,
    );
}

// Run-time changes: the same keys move, to the same servers.
#[test]
fn hdr_consistent_after_weight_change_and_maintenance() {
    let algo = BalanceAlgo::Hdr {
        name: "X-Key".into(),
        use_domain_only: false,
    };
    let changes = [Change::Weight(2, 1), Change::Maint(1), Change::Weight(4, 9)];
    let h = ht(CONS, Sdbm, true);
    parity_after(
        "hdr(X-Key)",
        "consistent",
        algo,
        h,
        Input::Header,
        &changes,
        Setup::default(),
    );
}
#[test]
fn uri_map_based_after_a_server_leaves() {
    let algo = BalanceAlgo::Uri(UriOpts::default());
    let changes = [Change::Weight(4, 0), Change::Maint(0)];
    let h = ht(MAP, Sdbm, false);
    parity_after(
        "uri",
        "map-based",
        algo,
        h,
        Input::Path,
        &changes,
        Setup::default(),
    );
}

// Backups: the first one alone, or all of them with `option allbackups`, once
// every active server is in maintenance.
fn backups(hash_type: &str, h: HashType, all_backups: bool) {
    let algo = BalanceAlgo::Hdr {
        name: "X-Key".into(),
        use_domain_only: false,
    };
    let changes = [Change::Maint(0), Change::Maint(1)];
    let setup = Setup {
        backups: 3,
        all_backups,
    };
    parity_after(
        "hdr(X-Key)",
        hash_type,
        algo,
        h,
        Input::Header,
        &changes,
        setup,
    );
}
#[test]
fn first_backup_map_based() {
    backups("map-based", ht(MAP, Sdbm, false), false);
}
#[test]
fn all_backups_map_based() {
    backups("map-based", ht(MAP, Sdbm, false), true);
}
#[test]
fn first_backup_consistent() {
    backups("consistent", ht(CONS, Sdbm, true), false);
}
#[test]
fn all_backups_consistent() {
    backups("consistent", ht(CONS, Sdbm, true), true);
}
#[test]
fn hash_expression_consistent() {
    let h = ht(CONS, Sdbm, true);
    parity(
        "hash req.hdr(X-Key)",
        "consistent",
        BalanceAlgo::Hash,
        h,
        Input::Header,
    );
}
#[test]
fn hash_expression_map_based_crc32() {
    let h = ht(MAP, Crc32, false);
    parity(
        "hash req.hdr(X-Key)",
        "map-based crc32",
        BalanceAlgo::Hash,
        h,
        Input::Header,
    );
}
#[test]
fn url_param_check_post_map_based() {
    let algo = BalanceAlgo::UrlParam {
        name: "id".into(),
        check_post: Some(0),
    };
    let h = ht(MAP, Sdbm, false);
    parity("url_param id check_post", "map-based", algo, h, Input::Post);
}
#[test]
fn url_param_reads_a_post_body_even_without_check_post() {
    let algo = BalanceAlgo::UrlParam {
        name: "id".into(),
        check_post: None,
    };
    let h = ht(CONS, Sdbm, true);
    parity("url_param id", "consistent", algo, h, Input::Post);
}
