//! Byte-level helpers of the converters (configuration.txt §7.3.1), kept apart
//! from the dispatch in `conv.rs`. Where the manual is vague, the behaviour is
//! HAProxy 2.6's as observed (see the tests).

use sha1::Digest as _;

/// Selects words (empty ones skipped) or fields (kept) like HAProxy's `word`/`field`.
pub(crate) fn pick<'a>(
    input: &'a [u8],
    delims: &[u8],
    index: i64,
    count: usize,
    skip_empty: bool,
) -> Option<&'a [u8]> {
    let spans: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut start = 0;
        for (i, b) in input.iter().enumerate() {
            if delims.contains(b) {
                v.push((start, i));
                start = i + 1;
            }
        }
        v.push((start, input.len()));
        if skip_empty {
            v.retain(|(a, b)| a < b);
        }
        v
    };
    let n = spans.len() as i64;
    let first = if index > 0 { index - 1 } else { n + index };
    if first < 0 || first >= n {
        return None;
    }
    let count = if count == 0 { usize::MAX } else { count };
    let (lo, hi) = if index > 0 {
        (
            first as usize,
            (first as usize).saturating_add(count).min(spans.len()),
        )
    } else {
        (
            (first as usize + 1).saturating_sub(count),
            first as usize + 1,
        )
    };
    Some(&input[spans[lo].0..spans[hi - 1].1])
}

pub(crate) fn json_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for ch in String::from_utf8_lossy(s).chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '/' => out.extend_from_slice(b"\\/"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
                }
            }
            c => out.push(c as u8),
        }
    }
    out
}

/// The bounds `ltrim` (`left`) or `rtrim` keep of `b`.
pub(crate) fn trim_bounds(b: &[u8], chars: &[u8], left: bool) -> (usize, usize) {
    if left {
        let start = b.iter().position(|c| !chars.contains(c)).unwrap_or(b.len());
        (start, b.len())
    } else {
        let end = b
            .iter()
            .rposition(|c| !chars.contains(c))
            .map_or(0, |p| p + 1);
        (0, end)
    }
}

/// `url_enc`: the query encoding; only letters, digits and `-._~` stay as they are.
pub(crate) fn url_enc(b: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        }
    }
    out
}

/// `hex2i`: hex digits to an integer (wrapping past 64 bits); `None` for empty
/// input or any other character (HAProxy then yields no sample).
pub(crate) fn hex2i(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        let d = char::from(c).to_digit(16)?;
        v = (v << 4) | u64::from(d);
    }
    Some(v as i64)
}

/// `cut_crlf`: the input up to its first CR or LF.
pub(crate) fn cut_crlf(b: &[u8]) -> usize {
    b.iter()
        .position(|c| matches!(c, b'\r' | b'\n'))
        .unwrap_or(b.len())
}

/// The `:` before the port of a Host value, if any (`[::1]` has none).
fn port_colon(b: &[u8]) -> Option<usize> {
    for (i, &c) in b.iter().enumerate().rev() {
        match c {
            b']' => return None,
            b':' => return Some(i),
            _ => {}
        }
    }
    None
}

/// `host_only`: the Host value without its port, lower-cased.
pub(crate) fn host_only(b: &[u8]) -> Vec<u8> {
    let end = port_colon(b).unwrap_or(b.len());
    b[..end].to_ascii_lowercase()
}

/// `port_only`: the port of a Host value, 0 without one. Digits are read the
/// way HAProxy 2.6 reads them (no check), so `host:abc` is not 0 there either.
pub(crate) fn port_only(b: &[u8]) -> i64 {
    let Some(i) = port_colon(b) else { return 0 };
    let n = b[i + 1..].iter().fold(0u32, |n, &c| {
        n.wrapping_mul(10)
            .wrapping_add(u32::from(c.wrapping_sub(b'0')))
    });
    i64::from(n)
}

/// `be2dec`/`le2dec`: one unsigned number per `chunk` bytes, joined by `sep`;
/// a last, shorter chunk is kept unless `truncate`.
pub(crate) fn to_dec(b: &[u8], sep: &[u8], chunk: usize, truncate: bool, big: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in b.chunks(chunk.max(1)).enumerate() {
        if truncate && c.len() < chunk {
            break;
        }
        if i > 0 {
            out.extend_from_slice(sep);
        }
        let n = if big {
            c.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x))
        } else {
            c.iter().rev().fold(0u64, |n, &x| (n << 8) | u64::from(x))
        };
        out.extend_from_slice(n.to_string().as_bytes());
    }
    out
}

/// `sha1`: the 20-byte digest.
pub(crate) fn sha1(b: &[u8]) -> Vec<u8> {
    sha1::Sha1::digest(b).to_vec()
}

/// `sha2(bits)`: the SHA-224/256/384/512 digest; `bits` was checked at load.
pub(crate) fn sha2(b: &[u8], bits: u16) -> Vec<u8> {
    match bits {
        224 => sha2::Sha224::digest(b).to_vec(),
        384 => sha2::Sha384::digest(b).to_vec(),
        512 => sha2::Sha512::digest(b).to_vec(),
        _ => sha2::Sha256::digest(b).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_and_field_follow_haproxy() {
        assert_eq!(pick(b"/a//b/c", b"/", 2, 1, true), Some(&b"b"[..]));
        assert_eq!(pick(b"/a//b/c", b"/", 3, 1, false), Some(&b""[..]));
        assert_eq!(pick(b"a.b.c", b".", -1, 1, false), Some(&b"c"[..]));
        assert_eq!(pick(b"a.b.c", b".", 2, 0, false), Some(&b"b.c"[..]));
        assert_eq!(pick(b"a.b.c", b".", 4, 1, false), None);
    }

    // Expected values below were read from HAProxy 2.6.12's answers.
    #[test]
    fn url_enc_keeps_only_unreserved_characters() {
        assert_eq!(
            url_enc("a b/é&=?%+~*.-_!".as_bytes()),
            b"a%20b%2F%C3%A9%26%3D%3F%25%2B~%2A.-_%21".to_vec()
        );
    }

    #[test]
    fn hex2i_wraps_and_refuses_non_hex() {
        assert_eq!(hex2i(b"0A0b"), Some(2571));
        assert_eq!(hex2i(b"123"), Some(291));
        assert_eq!(hex2i(b"ffffffffffffffffff"), Some(-1));
        assert_eq!(hex2i(b"7fffffffffffffff"), Some(i64::MAX));
        assert_eq!(hex2i(b"1z"), None);
        assert_eq!(hex2i(b""), None);
    }

    #[test]
    fn host_and_port_of_host_values() {
        let cases: &[(&[u8], &[u8], i64)] = &[
            (b"Example.COM:8080", b"example.com", 8080),
            (b"[::1]:80", b"[::1]", 80),
            (b"[::FFFF]", b"[::ffff]", 0),
            (b"host", b"host", 0),
            (b"1.2.3.4:", b"1.2.3.4", 0),
            (b"host:abc", b"host", 5451),
        ];
        for (input, host, port) in cases {
            assert_eq!(host_only(input), host.to_vec());
            assert_eq!(port_only(input), *port);
        }
    }

    #[test]
    fn be2dec_and_le2dec_examples() {
        let b = [1u8, 2, 3, 4, 5, 6, 7];
        assert_eq!(to_dec(&b, b":", 2, false, true), b"258:772:1286:7".to_vec());
        assert_eq!(to_dec(&b, b"-", 2, true, true), b"258-772-1286".to_vec());
        assert_eq!(to_dec(&b, b"", 2, true, true), b"2587721286".to_vec());
        assert_eq!(
            to_dec(&[127, 0, 0, 1], b".", 1, false, true),
            b"127.0.0.1".to_vec()
        );
        assert_eq!(
            to_dec(&b, b":", 2, false, false),
            b"513:1027:1541:7".to_vec()
        );
        let ten = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(
            to_dec(&ten, b".", 8, false, true),
            b"72623859790382856.2314".to_vec()
        );
    }

    #[test]
    fn digests() {
        let hex = |v: Vec<u8>| v.iter().map(|b| format!("{b:02X}")).collect::<String>();
        assert_eq!(hex(sha1(b"ab")), "DA23614E02469A0D7C7BD1BDAB5C9C474B1904DC");
        assert_eq!(
            hex(sha2(b"ab", 224)),
            "DB3CDA86D4429A1D39C148989566B38F7BDA0156296BD364BA2F878B"
        );
        assert_eq!(hex(sha2(b"abc", 512)).len(), 128);
        assert_eq!(cut_crlf(b"ab\rcd"), 2);
        assert_eq!(cut_crlf(b"abc"), 3);
    }
}
