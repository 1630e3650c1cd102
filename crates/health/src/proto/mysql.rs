//! `option mysql-check [user U [post-41|pre-41]]`.
//!
//! Without a user the server's initial handshake must not be an error
//! packet. With one, HAProxy sends a client authentication packet (no
//! password) followed by `COM_QUIT` right after connecting, and the packet
//! after the handshake must be OK. Passing checks report the server version.

use crate::script::{Script, Step};
use crate::status::{CheckStatus, Outcome};

/// The authentication packet (sequence 1) and `COM_QUIT`, byte for byte as
/// HAProxy sends them.
pub fn auth_request(user: &str, post41: bool) -> Vec<u8> {
    let mut body = Vec::new();
    if post41 {
        body.extend_from_slice(&[0x00, 0x82, 0x00, 0x00]); // client capabilities
        body.extend_from_slice(&[0x00, 0x80, 0x00, 0x01]); // max packet
        body.push(0x21); // utf8 charset
        body.extend_from_slice(&[0; 23]);
    } else {
        body.extend_from_slice(&[0x00, 0x80]);
        body.extend_from_slice(&[0x00, 0x00, 0x01]);
    }
    body.extend_from_slice(user.as_bytes());
    body.extend_from_slice(&[0x00, 0x00]); // NUL, empty password
    let len = body.len() as u32;
    let mut out = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, 1];
    out.extend_from_slice(&body);
    out.extend_from_slice(&[0x01, 0x00, 0x00, 0x00, 0x01]); // COM_QUIT
    out
}

pub fn script(user: Option<&str>, post41: bool) -> Script {
    match user {
        None => Script::with_connect(vec![super::custom(handshake)]),
        Some(u) => Script::with_connect(vec![
            Step::Send(auth_request(u, post41)),
            super::custom(handshake),
            super::custom(auth_reply),
        ]),
    }
}

/// The packet at `off`: its payload, once complete. `Err` on EOF before.
fn packet(buf: &[u8], off: usize, eof: bool) -> Option<Result<&[u8], Outcome>> {
    let head = buf.get(off..off + 4);
    let len = head.map(|h| usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16);
    match len.and_then(|l| buf.get(off + 4..off + 4 + l)) {
        Some(p) if !p.is_empty() => Some(Ok(p)),
        _ if eof => Some(Err(Outcome::with_info(
            CheckStatus::L7Rsp,
            "Incomplete packet (MySQL)",
        ))),
        _ => None,
    }
}

fn error_text(p: &[u8]) -> Outcome {
    // 0xff, error code (2), then '#' + SQL state (5) in 4.1+, then the message.
    let code = p.get(1..3).map(|c| u32::from(c[0]) | u32::from(c[1]) << 8);
    let msg = match p.get(3) {
        Some(b'#') => p.get(9..),
        _ => p.get(3..),
    };
    let o = Outcome::with_info(
        CheckStatus::L7Sts,
        String::from_utf8_lossy(msg.unwrap_or_default()),
    );
    match code {
        Some(c) => o.code(c),
        None => o,
    }
}

fn version(p: &[u8]) -> String {
    let v = p.get(1..).unwrap_or_default();
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn handshake(buf: &[u8], eof: bool) -> Option<Outcome> {
    Some(match packet(buf, 0, eof)? {
        Err(o) => o,
        Ok(p) if p[0] == 0xff => error_text(p),
        Ok(p) => Outcome::with_info(CheckStatus::L7Ok, version(p)),
    })
}

fn auth_reply(buf: &[u8], eof: bool) -> Option<Outcome> {
    let first = match packet(buf, 0, eof)? {
        Err(o) => return Some(o),
        Ok(p) => p,
    };
    let off = 4 + first.len();
    Some(match packet(buf, off, eof)? {
        Err(o) => o,
        Ok(p) if p[0] == 0xff => error_text(p),
        Ok(_) => Outcome::with_info(CheckStatus::L7Ok, version(first)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn greeting() -> Vec<u8> {
        let payload = b"\x0a8.0.36\0\x01\x00\x00\x00abcdefgh\0";
        let mut p = vec![payload.len() as u8, 0, 0, 0];
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn auth_packet_lengths_match_haproxy() {
        let post = auth_request("haproxy", true);
        assert_eq!(&post[..4], &[7 + 34, 0, 0, 1]);
        assert_eq!(post.len(), 4 + 41 + 5);
        let pre = auth_request("haproxy", false);
        assert_eq!(&pre[..4], &[7 + 7, 0, 0, 1]);
        assert!(pre.ends_with(&[1, 0, 0, 0, 1]));
    }

    #[test]
    fn handshake_then_ok_or_error() {
        let g = greeting();
        assert_eq!(handshake(&g[..6], false), None);
        assert_eq!(
            handshake(&g, false),
            Some(Outcome::with_info(CheckStatus::L7Ok, "8.0.36"))
        );
        let mut ok = g.clone();
        ok.extend_from_slice(&[7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(
            auth_reply(&ok, false).map(|o| o.status),
            Some(CheckStatus::L7Ok)
        );
        let mut denied = g.clone();
        let err = b"\xff\x15\x04#28000Access denied";
        denied.extend_from_slice(&[err.len() as u8, 0, 0, 2]);
        denied.extend_from_slice(err);
        assert_eq!(
            auth_reply(&denied, false),
            Some(Outcome::with_info(CheckStatus::L7Sts, "Access denied").code(1045))
        );
        assert_eq!(
            auth_reply(&g, true).map(|o| o.status),
            Some(CheckStatus::L7Rsp)
        );
    }
}
