//! The `balance` algorithm and hashing settings, shaped so the config stage can
//! map its model onto them field by field.

/// `balance <algorithm> [arguments]` (configuration.txt §4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BalanceAlgo {
    /// Smooth weighted round-robin; weight changes take effect at once.
    #[default]
    RoundRobin,
    /// Weighted round-robin over a table fixed at start (weights do not change).
    StaticRr,
    /// Fewest connections per unit of weight; ties in round-robin order.
    LeastConn,
    /// Lowest `id` with a free `maxconn` slot.
    First,
    /// Hash of the client's source address.
    Source,
    /// Hash of the request URI.
    Uri(UriOpts),
    /// Hash of a query-string (or POST body) parameter; round-robin when absent.
    UrlParam {
        name: String,
        /// `check_post [max_wait]`: accepted for compatibility; HAProxy 2.6 (and
        /// this crate) looks in a POST body whenever the query has no value.
        check_post: Option<u32>,
    },
    /// Hash of a request header's first value; round-robin when absent or empty.
    Hdr { name: String, use_domain_only: bool },
    /// Hash of the RDP `Cookie: <name>=` of a TCP connection's first packet.
    RdpCookie {
        /// `mstshash` when written `rdp-cookie` alone.
        name: String,
    },
    /// Power of `draws` random choices, keeping the least loaded (default 2).
    Random { draws: u32 },
    /// `balance hash <expr>`: the engine evaluates the expression and passes its
    /// bytes through [`crate::SelectKey::hash_input`].
    Hash,
}

/// `uri [len N] [depth N] [whole] [path-only]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UriOpts {
    /// Hash at most this many characters (0 or `None`: all).
    pub len: Option<u32>,
    /// Hash up to this many directory levels (slashes).
    pub depth: Option<u32>,
    /// Include the query string.
    pub whole: bool,
    /// Drop `scheme://authority` of absolute URIs.
    pub path_only: bool,
}

impl BalanceAlgo {
    /// `rdp-cookie` without a name.
    pub fn rdp_cookie_default() -> Self {
        BalanceAlgo::RdpCookie {
            name: "mstshash".to_owned(),
        }
    }

    /// `random` without a number of draws.
    pub fn random_default() -> Self {
        BalanceAlgo::Random { draws: 2 }
    }

    /// Whether the algorithm hashes a key, hence honours `hash-type`.
    pub fn is_hash(&self) -> bool {
        matches!(
            self,
            BalanceAlgo::Source
                | BalanceAlgo::Uri(_)
                | BalanceAlgo::UrlParam { .. }
                | BalanceAlgo::Hdr { .. }
                | BalanceAlgo::RdpCookie { .. }
                | BalanceAlgo::Hash
        )
    }

    /// Whether weights may change at run time (HAProxy's "dynamic" algorithms).
    pub fn is_dynamic(&self, hash_type: &HashType) -> bool {
        match self {
            BalanceAlgo::StaticRr => false,
            a if a.is_hash() => hash_type.method == HashMethod::Consistent,
            _ => true,
        }
    }
}

/// `hash-type <method> <function> [avalanche]`; build it with
/// [`HashType::from_config`] to get HAProxy's implied `avalanche`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HashType {
    pub method: HashMethod,
    pub function: HashFunction,
    pub avalanche: bool,
}

impl HashType {
    /// `hash-type <method> [function] [avalanche]` as HAProxy 2.6 reads it:
    /// `consistent` written without a function means `sdbm` *with* `avalanche`;
    /// map-based without a function is plain `sdbm`.
    pub fn from_config(
        method: HashMethod,
        function: Option<HashFunction>,
        avalanche: bool,
    ) -> Self {
        let implied = function.is_none() && method == HashMethod::Consistent;
        HashType {
            method,
            function: function.unwrap_or_default(),
            avalanche: avalanche || implied,
        }
    }
}

/// How a hash becomes a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashMethod {
    /// `hash % total weight` into a weighted table; any change remaps most keys.
    #[default]
    MapBased,
    /// A ring of weighted points; a change moves only the changed server's keys.
    Consistent,
}

/// The function applied to the key bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashFunction {
    #[default]
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
    /// The key is already a number.
    None,
}

/// Backend-wide settings that shape selection, besides the algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BalanceOptions {
    pub hash_type: HashType,
    /// `hash-balance-factor <percent>` (consistent hashing only): a server may take
    /// at most this percentage of the average load; 0 or `None` disables it.
    pub hash_balance_factor: Option<u32>,
    /// `option allbackups`: use every backup server, not just the first.
    pub all_backups: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_algorithms_are_not_dynamic() {
        let map = HashType::default();
        let cons = HashType::from_config(HashMethod::Consistent, None, false);
        assert!(!BalanceAlgo::StaticRr.is_dynamic(&map));
        assert!(!BalanceAlgo::Source.is_dynamic(&map));
        assert!(BalanceAlgo::Source.is_dynamic(&cons));
        assert!(BalanceAlgo::RoundRobin.is_dynamic(&map));
        assert!(BalanceAlgo::random_default().is_dynamic(&map));
    }
}
