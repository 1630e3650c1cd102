//! Stick-table keys: typed as the table declares (`type ip|ipv6|integer|string|binary`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use fulcrum_config::model::persist::TableKeyType;

use crate::error::PersistError;

/// The key type of a table, with its length for strings and binaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Ip,
    Ipv6,
    /// HAProxy's integer keys are 32 bits.
    Integer,
    /// Strings longer than `len` bytes are cut.
    String(usize),
    /// Cut to `len` bytes, and shorter ones are padded with zeroes.
    Binary(usize),
}

impl KeyType {
    /// HAProxy's name of the type (`show table` prints it).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ip => "ip",
            KeyType::Ipv6 => "ipv6",
            KeyType::Integer => "integer",
            KeyType::String(_) => "string",
            KeyType::Binary(_) => "binary",
        }
    }
}

impl From<TableKeyType> for KeyType {
    fn from(t: TableKeyType) -> Self {
        match t {
            TableKeyType::Ip => KeyType::Ip,
            TableKeyType::Ipv6 => KeyType::Ipv6,
            TableKeyType::Integer => KeyType::Integer,
            TableKeyType::String { len } => KeyType::String(len as usize),
            TableKeyType::Binary { len } => KeyType::Binary(len as usize),
        }
    }
}

/// A key, already converted to its table's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Ip(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Integer(u32),
    String(Box<[u8]>),
    Binary(Box<[u8]>),
}

impl Key {
    /// The key for an address. An IPv4-mapped IPv6 address fits an `ip` table;
    /// another IPv6 address does not (HAProxy does not track it there).
    pub fn from_ip(ty: KeyType, ip: IpAddr) -> Result<Key, PersistError> {
        match (ty, ip) {
            (KeyType::Ip, IpAddr::V4(a)) => Ok(Key::Ip(a)),
            (KeyType::Ip, IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .map(Key::Ip)
                .ok_or_else(|| bad(ty, &ip.to_string())),
            (KeyType::Ipv6, IpAddr::V4(a)) => Ok(Key::Ipv6(a.to_ipv6_mapped())),
            (KeyType::Ipv6, IpAddr::V6(a)) => Ok(Key::Ipv6(a)),
            _ => Key::from_text(ty, ip.to_string().as_bytes()),
        }
    }

    /// The key for an integer sample: cut to 32 bits as HAProxy stores it.
    pub fn from_int(ty: KeyType, v: i64) -> Result<Key, PersistError> {
        match ty {
            KeyType::Integer => Ok(Key::Integer(v as u32)),
            _ => Key::from_text(ty, v.to_string().as_bytes()),
        }
    }

    /// The key for a sample as text or bytes, the form the rules crate hands over
    /// (`127.0.0.1` for `src`, decimal for integers).
    pub fn from_text(ty: KeyType, bytes: &[u8]) -> Result<Key, PersistError> {
        let text = || std::str::from_utf8(bytes).ok().map(str::trim);
        match ty {
            KeyType::Ip | KeyType::Ipv6 => {
                let ip: IpAddr = text()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(ty, &String::from_utf8_lossy(bytes)))?;
                Key::from_ip(ty, ip)
            }
            KeyType::Integer => text()
                .and_then(|s| s.parse::<i64>().ok())
                .map(|v| Key::Integer(v as u32))
                .ok_or_else(|| bad(ty, &String::from_utf8_lossy(bytes))),
            KeyType::String(len) => Ok(Key::String(bytes[..bytes.len().min(len)].into())),
            KeyType::Binary(len) => {
                let mut v = bytes[..bytes.len().min(len)].to_vec();
                v.resize(len, 0);
                Ok(Key::Binary(v.into()))
            }
        }
    }

    /// Whether this key belongs in a table of type `ty`.
    pub fn fits(&self, ty: KeyType) -> bool {
        match (self, ty) {
            (Key::Ip(_), KeyType::Ip)
            | (Key::Ipv6(_), KeyType::Ipv6)
            | (Key::Integer(_), KeyType::Integer) => true,
            (Key::String(s), KeyType::String(len)) => s.len() <= len,
            (Key::Binary(b), KeyType::Binary(len)) => b.len() == len,
            _ => false,
        }
    }

    /// A stable 64-bit hash (FNV-1a) to pick a shard: the same on every thread and run.
    pub(crate) fn shard_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for x in b {
                h ^= u64::from(*x);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        match self {
            Key::Ip(a) => eat(&a.octets()),
            Key::Ipv6(a) => eat(&a.octets()),
            Key::Integer(v) => eat(&v.to_be_bytes()),
            Key::String(s) | Key::Binary(s) => eat(s),
        }
        h
    }
}

fn bad(ty: KeyType, value: &str) -> PersistError {
    PersistError::BadKey {
        ty: ty.name(),
        value: value.chars().take(64).collect(),
    }
}

impl fmt::Display for Key {
    /// As `show table` prints keys: addresses and integers as text, binary as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Ip(a) => write!(f, "{a}"),
            Key::Ipv6(a) => write!(f, "{a}"),
            Key::Integer(v) => write!(f, "{v}"),
            Key::String(s) => write!(f, "{}", String::from_utf8_lossy(s)),
            Key::Binary(b) => b.iter().try_for_each(|x| write!(f, "{x:02x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ip_keys_accept_mapped_v6_and_refuse_other_v6() {
        let k = Key::from_text(KeyType::Ip, b"::ffff:10.0.0.1").unwrap();
        assert_eq!(k, Key::Ip(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(Key::from_text(KeyType::Ip, b"2001:db8::1").is_err());
        assert!(Key::from_text(KeyType::Ip, b"not-an-ip").is_err());
        let k6 = Key::from_text(KeyType::Ipv6, b"10.0.0.1").unwrap();
        assert_eq!(k6.to_string(), "::ffff:10.0.0.1");
    }

    #[test]
    fn strings_are_cut_and_binaries_padded() {
        assert_eq!(
            Key::from_text(KeyType::String(4), b"abcdef").unwrap(),
            Key::String((*b"abcd").into())
        );
        let b = Key::from_text(KeyType::Binary(4), b"ab").unwrap();
        assert_eq!(b.to_string(), "61620000");
    }

    #[test]
    fn integers_wrap_to_32_bits() {
        assert_eq!(
            Key::from_int(KeyType::Integer, 1 << 32 | 7).unwrap(),
            Key::Integer(7)
        );
        assert_eq!(
            Key::from_text(KeyType::Integer, b"-1").unwrap(),
            Key::Integer(u32::MAX)
        );
    }

    proptest! {
        #[test]
        fn text_keys_always_fit_their_type(bytes in proptest::collection::vec(any::<u8>(), 0..80), len in 1usize..40) {
            for ty in [KeyType::String(len), KeyType::Binary(len), KeyType::Ip, KeyType::Ipv6, KeyType::Integer] {
                if let Ok(k) = Key::from_text(ty, &bytes) {
                    prop_assert!(k.fits(ty));
                }
            }
        }
    }
}
