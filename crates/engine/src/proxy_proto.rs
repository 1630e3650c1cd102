//! PROXY protocol glue over `fulcrum_proto::proxy_protocol`: reading it from
//! clients (`accept-proxy`) and writing it to servers (`send-proxy[-v2]`).

use fulcrum_proto::proxy_protocol::{self as pp, ProxyAddresses, ProxyCommand};
use fulcrum_proto::Parsed;
use std::net::SocketAddr;

/// Addresses carried by a header; `None` for LOCAL / UNKNOWN.
pub type Addrs = Option<(SocketAddr, SocketAddr)>;

/// Parses a header at the start of `buf`: `Ok(None)` means more bytes are needed,
/// `Ok(Some((len, addrs)))` gives the header length.
pub fn parse(buf: &[u8]) -> Result<Option<(usize, Addrs)>, fulcrum_proto::Error> {
    match pp::parse_proxy_header(buf)? {
        Parsed::Partial => Ok(None),
        Parsed::Complete(h, len) => {
            let addrs = match (h.command, h.addresses) {
                (
                    ProxyCommand::Proxy,
                    ProxyAddresses::Tcp {
                        source,
                        destination,
                    },
                ) => Some((source, destination)),
                _ => None,
            };
            Ok(Some((len, addrs)))
        }
    }
}

/// `send-proxy`: a v1 line for the client's addresses (`UNKNOWN` for a UNIX
/// client, as HAProxy sends).
pub fn v1_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    pp::encode_v1(inet_pair(src, dst), &mut out);
    out
}

/// `send-proxy-v2`: a binary header for the client's addresses (`LOCAL` for a
/// UNIX client, as HAProxy sends).
pub fn v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(52);
    pp::encode_v2(inet_pair(src, dst), &mut out);
    out
}

fn inet_pair(src: SocketAddr, dst: SocketAddr) -> Option<(SocketAddr, SocketAddr)> {
    (!crate::unix::is_unix(&src) && !crate::unix::is_unix(&dst)).then_some((src, dst))
}
