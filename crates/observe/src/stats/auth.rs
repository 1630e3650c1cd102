//! `stats auth USER:PASS` / `stats realm`: HTTP Basic authentication for the
//! stats page.

/// HAProxy's realm when `stats realm` is not set.
pub const DEFAULT_REALM: &str = "HAProxy Statistics";

/// The `WWW-Authenticate` value of the 401 answer.
pub fn www_authenticate(realm: Option<&str>) -> String {
    let realm = realm.unwrap_or(DEFAULT_REALM).replace('"', "");
    format!("Basic realm=\"{realm}\"")
}

/// Whether an `Authorization` header value names one of `users`
/// (`(user, password)` pairs from `stats auth`).
pub fn check_basic(header: Option<&str>, users: &[(String, String)]) -> bool {
    let Some(h) = header else { return false };
    let mut it = h.trim().splitn(2, ' ');
    let (Some(scheme), Some(cred)) = (it.next(), it.next()) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = base64_decode(cred.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = text.split_once(':') else {
        return false;
    };
    users.iter().any(|(u, p)| u == user && p == pass)
}

/// Standard base64 with padding; `None` on any invalid input.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    // A multiple of 4 (bit test: `is_multiple_of` is newer than our MSRV).
    if b.len() & 3 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, chunk) in b.chunks(4).enumerate() {
        let last = i == b.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (j, c) in chunk.iter().enumerate() {
            let v = if j >= 4 - pad { 0 } else { val(*c)? };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_match_configured_users() {
        let users = vec![("proxy".to_string(), "oldboy".to_string())];
        // base64("proxy:oldboy")
        assert!(check_basic(Some("Basic cHJveHk6b2xkYm95"), &users));
        assert!(check_basic(Some("basic  cHJveHk6b2xkYm95 "), &users));
        assert!(!check_basic(Some("Basic cHJveHk6b2xkYm96"), &users));
        assert!(!check_basic(Some("Bearer cHJveHk6b2xkYm95"), &users));
        assert!(!check_basic(Some("Basic !!!"), &users));
        assert!(!check_basic(None, &users));
        assert_eq!(www_authenticate(None), "Basic realm=\"HAProxy Statistics\"");
        assert_eq!(www_authenticate(Some("Ops")), "Basic realm=\"Ops\"");
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert!(base64_decode("YQ=").is_none());
        assert!(base64_decode("Y===").is_none());
        assert!(base64_decode("YQ==YWJj").is_none());
    }
}
