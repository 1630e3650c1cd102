//! `balance`, `hash-type`, `hash-balance-factor` (configuration.txt §4.2 "balance").

use crate::rules::SampleExpr;

/// The server-selection algorithm, as the balance crate implements it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Balance {
    #[default]
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    /// Hash of the client's source address.
    Source,
    /// Hash of the URI; `whole` also hashes the query string, `path_only` drops the
    /// host of absolute URIs, `len`/`depth` limit what is hashed.
    Uri {
        whole: bool,
        path_only: bool,
        len: Option<u32>,
        depth: Option<u32>,
    },
    /// Hash of a query-string parameter (`check_post` is accepted, not used).
    UrlParam {
        name: String,
        check_post: Option<u32>,
    },
    /// Hash of a request header; `use_domain_only` hashes the domain part of Host.
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    /// Hash of a cookie of the RDP protocol's first packet.
    RdpCookie {
        name: String,
    },
    /// Random with `draws` power-of-N-choices.
    Random {
        draws: u32,
    },
    /// Hash of any sample expression (`balance hash req.cookie(x)`).
    Hash(SampleExpr),
}

impl Balance {
    /// Whether the algorithm needs HTTP (falls back to round-robin in TCP mode).
    pub fn needs_http(&self) -> bool {
        matches!(
            self,
            Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. }
        )
    }
}

/// `hash-type map-based|consistent [sdbm|djb2|wt6|crc32|none] [avalanche]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HashType {
    pub method: HashMethod,
    pub function: HashFunction,
    pub avalanche: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashMethod {
    #[default]
    MapBased,
    Consistent,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashFunction {
    #[default]
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
    None,
}
