//! `option pgsql-check user U`: a StartupMessage; an authentication request
//! (`R`) passes, an error (`E`) fails with the server's message.

use crate::script::{Script, Step};
use crate::status::{CheckStatus, Outcome};

/// The StartupMessage: length, protocol 3.0, `user` = `user`.
pub fn startup(user: &str) -> Vec<u8> {
    let len = 15 + user.len();
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&(len as u32).to_be_bytes());
    b.extend_from_slice(&[0, 3, 0, 0]);
    b.extend_from_slice(b"user\0");
    b.extend_from_slice(user.as_bytes());
    b.extend_from_slice(&[0, 0]);
    b
}

pub fn script(user: &str) -> Script {
    Script::with_connect(vec![Step::Send(startup(user)), super::custom(judge)])
}

fn judge(buf: &[u8], eof: bool) -> Option<Outcome> {
    if buf.first() == Some(&b'E') {
        if buf.len() < 5 && !eof {
            return None;
        }
        // Skip 'E', the length and the first field's type byte.
        let msg = buf.get(6..).unwrap_or_default();
        let end = msg.iter().position(|&b| b == 0).unwrap_or(msg.len());
        return Some(Outcome::with_info(
            CheckStatus::L7Rsp,
            String::from_utf8_lossy(&msg[..end]),
        ));
    }
    if buf.len() < 9 {
        return eof.then(|| Outcome::with_info(CheckStatus::L7Sts, "PostgreSQL unknown error"));
    }
    let auth_ok = buf[0] == b'R'
        && buf[1..4] == [0, 0, 0]
        && matches!(buf[4], 0x08 | 0x0a | 0x0c)
        && buf[5..8] == [0, 0, 0]
        && matches!(buf[8], 0 | 2..=6);
    Some(if auth_ok {
        Outcome::with_info(CheckStatus::L7Ok, "PostgreSQL server is ok")
    } else {
        Outcome::with_info(CheckStatus::L7Sts, "PostgreSQL unknown error")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_message_layout() {
        assert_eq!(
            startup("hap"),
            b"\x00\x00\x00\x12\x00\x03\x00\x00user\0hap\0\0".to_vec()
        );
    }

    #[test]
    fn auth_requests_pass_errors_fail_with_their_text() {
        let ok = judge(b"R\x00\x00\x00\x08\x00\x00\x00\x00", false);
        assert_eq!(ok.map(|o| o.status), Some(CheckStatus::L7Ok));
        let md5 = judge(b"R\x00\x00\x00\x0c\x00\x00\x00\x05salt", false);
        assert_eq!(md5.map(|o| o.status), Some(CheckStatus::L7Ok));
        let err = judge(b"E\x00\x00\x00\x20SFATAL\0Mrole does not exist\0\0", false);
        assert_eq!(err, Some(Outcome::with_info(CheckStatus::L7Rsp, "FATAL")));
    }
}
