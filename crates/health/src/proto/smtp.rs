//! `option smtpchk [HELO|EHLO domain]`: a 2xx greeting, then a 2xx reply to
//! `HELO localhost` (or the command given).

use crate::script::{Script, Step};
use crate::status::{CheckStatus, Outcome};

pub fn script(hello: &str, domain: &str) -> Script {
    let cmd = format!("{hello} {domain}\r\n");
    Script::with_connect(vec![
        super::custom(judge),
        Step::Send(cmd.into_bytes()),
        super::custom(judge),
    ])
}

/// A reply line `NNN text`: not three digits is an invalid response, not 2xx
/// a wrong status (with the code and text), 2xx passes.
fn judge(buf: &[u8], _eof: bool) -> Option<Outcome> {
    let line = super::first_line(buf)?;
    let code = line
        .get(..3)
        .filter(|c| c.iter().all(u8::is_ascii_digit))
        .and_then(|c| std::str::from_utf8(c).ok()?.parse::<u32>().ok());
    let sep_ok = matches!(line.get(3), None | Some(b' ') | Some(b'-'));
    let Some(code) = code.filter(|_| sep_ok) else {
        return Some(Outcome::with_info(
            CheckStatus::L7Rsp,
            String::from_utf8_lossy(line),
        ));
    };
    let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default())
        .trim_start()
        .to_string();
    let status = if (200..300).contains(&code) {
        CheckStatus::L7Ok
    } else {
        CheckStatus::L7Sts
    };
    Some(Outcome::with_info(status, text).code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_judged_by_their_code() {
        assert_eq!(judge(b"220 mx ready", false), None);
        assert_eq!(
            judge(b"250 mx.example Hello\r\n", false),
            Some(Outcome::with_info(CheckStatus::L7Ok, "mx.example Hello").code(250))
        );
        assert_eq!(
            judge(b"554 go away\r\n", false).map(|o| o.status),
            Some(CheckStatus::L7Sts)
        );
        assert_eq!(
            judge(b"hello\r\n", false).map(|o| o.status),
            Some(CheckStatus::L7Rsp)
        );
    }
}
