//! `option redis-check`: `PING`, expecting `+PONG`.

use crate::script::{Script, Step};
use crate::status::{CheckStatus, Outcome};

/// The PING command as a RESP array, as HAProxy sends it.
pub const REQUEST: &[u8] = b"*1\r\n$4\r\nPING\r\n";

pub fn script() -> Script {
    Script::with_connect(vec![Step::Send(REQUEST.to_vec()), super::custom(judge)])
}

fn judge(buf: &[u8], _eof: bool) -> Option<Outcome> {
    let line = super::first_line(buf)?;
    Some(if line == b"+PONG" {
        Outcome::with_info(CheckStatus::L7Ok, "Redis server is ok")
    } else {
        Outcome::with_info(CheckStatus::L7Sts, String::from_utf8_lossy(line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_passes_anything_else_is_a_wrong_status() {
        assert_eq!(judge(b"+PO", false), None);
        assert_eq!(
            judge(b"+PONG\r\n", false).map(|o| o.status),
            Some(CheckStatus::L7Ok)
        );
        let o = judge(b"-LOADING Redis is loading\r\n", false);
        assert_eq!(
            o,
            Some(Outcome::with_info(
                CheckStatus::L7Sts,
                "-LOADING Redis is loading"
            ))
        );
    }
}
