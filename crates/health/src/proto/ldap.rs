//! `option ldap-check`: an anonymous LDAPv3 bind; the BindResponse must say
//! success.

use crate::script::{Script, Step};
use crate::status::{CheckStatus, Outcome};

/// BindRequest, message id 1, version 3, empty name, simple empty password.
pub const REQUEST: &[u8] = &[
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
];

pub fn script() -> Script {
    Script::with_connect(vec![Step::Send(REQUEST.to_vec()), super::custom(judge)])
}

/// A BER length at `i`: (length, bytes it took).
fn ber_len(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let first = *b.get(i)?;
    if first < 0x80 {
        return Some((usize::from(first), 1));
    }
    let n = usize::from(first & 0x7f);
    let bytes = b.get(i + 1..i + 1 + n)?;
    let len = bytes.iter().fold(0usize, |a, &x| {
        a.saturating_mul(256).saturating_add(usize::from(x))
    });
    Some((len, 1 + n))
}

fn judge(buf: &[u8], eof: bool) -> Option<Outcome> {
    let bad = || {
        Some(Outcome::with_info(
            CheckStatus::L7Rsp,
            "Not LDAPv3 protocol",
        ))
    };
    if buf.first().is_some_and(|&b| b != 0x30) {
        return bad();
    }
    let Some((len, l)) = ber_len(buf, 1) else {
        return if eof { bad() } else { None };
    };
    // A length beyond the buffer waits for more (or is invalid at EOF).
    let Some(msg) = (1 + l).checked_add(len).and_then(|end| buf.get(1 + l..end)) else {
        return if eof { bad() } else { None };
    };
    // messageID 1, then BindResponse (0x61).
    if msg.get(..3) != Some(&[0x02, 0x01, 0x01]) || msg.get(3) != Some(&0x61) {
        return bad();
    }
    let Some((_, l2)) = ber_len(msg, 4) else {
        return bad();
    };
    let rc = &msg[(4 + l2).min(msg.len())..];
    match rc.get(..3) {
        Some([0x0a, 0x01, 0x00]) => Some(Outcome::with_info(CheckStatus::L7Ok, "Success")),
        Some([0x0a, 0x01, _]) => Some(Outcome::with_info(
            CheckStatus::L7Sts,
            "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9",
        )),
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_lengths_wait_instead_of_overflowing() {
        let mut b = vec![0x30, 0x88];
        b.extend_from_slice(&[0xff; 8]);
        assert_eq!(judge(&b, false), None);
        assert_eq!(judge(&b, true).map(|o| o.status), Some(CheckStatus::L7Rsp));
    }

    #[test]
    fn bind_success_and_failure() {
        let ok = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(judge(&ok[..5], false), None);
        assert_eq!(judge(&ok, false).map(|o| o.status), Some(CheckStatus::L7Ok));
        let mut denied = ok;
        denied[9] = 49;
        assert_eq!(
            judge(&denied, false).map(|o| o.status),
            Some(CheckStatus::L7Sts)
        );
        assert_eq!(
            judge(b"HTTP/1.0", false).map(|o| o.status),
            Some(CheckStatus::L7Rsp)
        );
    }
}
