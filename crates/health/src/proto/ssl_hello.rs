//! `option ssl-hello-chk`: a ClientHello; a TLS handshake or alert record
//! in reply proves an SSL/TLS stack is listening (layer 6).

use crate::expect::{Expectation, Matcher};
use crate::script::{Script, Step};
use crate::status::{CheckStatus, Outcome};

/// A minimal SSLv3/TLS ClientHello (common RSA suites, no extensions).
pub fn client_hello() -> Vec<u8> {
    let suites: [u16; 8] = [
        0x002f, 0x0035, 0x000a, 0x0005, 0x0004, 0x009c, 0x009d, 0x003c,
    ];
    let mut hello = vec![0x03, 0x00]; // client version SSLv3
    hello.extend_from_slice(&[0x5a; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        hello.extend_from_slice(&s.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // null compression
    let mut hs = vec![0x01, 0, 0, 0];
    let l = hello.len() as u32;
    hs[1..4].copy_from_slice(&l.to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x00];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

pub fn script() -> Script {
    let mut e = Expectation::new(Matcher::Custom(judge));
    e.tout_status = Some(CheckStatus::L6Tout);
    Script::with_connect(vec![Step::Send(client_hello()), Step::Expect(e)])
}

fn judge(buf: &[u8], eof: bool) -> Option<Outcome> {
    match buf.first() {
        Some(0x15 | 0x16) => Some(Outcome::new(CheckStatus::L6Ok)),
        Some(_) => Some(Outcome::new(CheckStatus::L6Rsp)),
        None if eof => Some(Outcome::new(CheckStatus::L6Rsp)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_a_handshake_record_and_replies_are_judged() {
        let h = client_hello();
        assert_eq!(&h[..3], &[0x16, 0x03, 0x00]);
        assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])), h.len() - 5);
        assert_eq!(
            judge(&[0x16, 3, 1], false),
            Some(Outcome::new(CheckStatus::L6Ok))
        );
        assert_eq!(
            judge(b"HTTP", false),
            Some(Outcome::new(CheckStatus::L6Rsp))
        );
        assert_eq!(judge(b"", false), None);
    }
}
