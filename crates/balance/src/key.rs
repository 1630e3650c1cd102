//! What one selection looks at: [`SelectKey`], implemented by the engine over its
//! parsed request (no copy, no allocation), and the extraction of each
//! algorithm's hash key from it, byte for byte as HAProxy 2.6 extracts it.

use crate::algo::UriOpts;
use std::net::IpAddr;

/// The per-request input of [`crate::Balancer::select`]. Every method defaults to
/// "absent", so a TCP-mode caller implements only what it has.
pub trait SelectKey {
    /// The client's address (`balance source`); `None` for UNIX sockets.
    fn source(&self) -> Option<IpAddr> {
        None
    }
    /// The request-target as received: origin form (`/a?b`) or absolute form.
    fn uri(&self) -> Option<&[u8]> {
        None
    }
    /// The value of the first header field named `name` (ASCII case-insensitive),
    /// as on the wire after the colon; the algorithm takes its first
    /// comma-separated element.
    fn header(&self, _name: &str) -> Option<&[u8]> {
        None
    }
    /// The start of the request body when the method is POST (`url_param
    /// check_post`); `None` for other methods.
    fn post_body(&self) -> Option<&[u8]> {
        None
    }
    /// The bytes received so far on a TCP connection (`rdp-cookie`).
    fn payload(&self) -> Option<&[u8]> {
        None
    }
    /// The bytes of `balance hash <expr>`'s sample, evaluated by the engine;
    /// `None` when the sample fetch failed.
    fn hash_input(&self) -> Option<&[u8]> {
        None
    }
    /// Servers not to pick (already tried, redispatch): the next choice is taken.
    fn is_excluded(&self, _server: usize) -> bool {
        false
    }
}

/// A ready-made [`SelectKey`] over borrowed parts, for tests and simple callers.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestKey<'a> {
    pub source: Option<IpAddr>,
    pub uri: Option<&'a [u8]>,
    /// `(name, value)` in arrival order.
    pub headers: &'a [(&'a str, &'a [u8])],
    pub post_body: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub hash_input: Option<&'a [u8]>,
    /// Indexes of servers to avoid.
    pub exclude: &'a [usize],
}

impl SelectKey for RequestKey<'_> {
    fn source(&self) -> Option<IpAddr> {
        self.source
    }
    fn uri(&self) -> Option<&[u8]> {
        self.uri
    }
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
    fn post_body(&self) -> Option<&[u8]> {
        self.post_body
    }
    fn payload(&self) -> Option<&[u8]> {
        self.payload
    }
    fn hash_input(&self) -> Option<&[u8]> {
        self.hash_input
    }
    fn is_excluded(&self, server: usize) -> bool {
        self.exclude.contains(&server)
    }
}

/// `balance source`: the address's 32-bit words XORed (IPv4: the address itself).
pub fn source_hash(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            o.chunks_exact(4)
                .fold(0, |h, w| h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        }
    }
}

/// The path of a request-target: itself in origin form, what follows the
/// authority in absolute form, empty otherwise (`*`, authority form).
pub fn uri_path(uri: &[u8]) -> &[u8] {
    match uri.first() {
        Some(b'/') => uri,
        Some(c) if c.is_ascii_alphabetic() => {
            let scheme_end = uri
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
                .unwrap_or(uri.len());
            let rest = &uri[scheme_end..];
            match rest.strip_prefix(b"://") {
                Some(auth) => {
                    let p = auth.iter().position(|&c| c == b'/').unwrap_or(auth.len());
                    &auth[p..]
                }
                None => &[],
            }
        }
        _ => &[],
    }
}

/// The part of the URI `balance uri` hashes: up to `len` bytes, stopping at the
/// `depth`+1-th slash, and at `?` unless `whole`.
pub fn uri_key<'a>(uri: &'a [u8], opts: &UriOpts) -> &'a [u8] {
    let uri = if opts.path_only { uri_path(uri) } else { uri };
    let mut n = uri.len();
    if let Some(len) = opts.len.filter(|&l| l > 0) {
        n = n.min(usize::try_from(len).unwrap_or(usize::MAX));
    }
    let stop_at = opts.depth.map(|d| u64::from(d) + 1);
    let mut slashes = 0u64;
    let mut end = 0;
    while end < n {
        match uri[end] {
            b'/' => {
                slashes += 1;
                if Some(slashes) == stop_at {
                    break;
                }
            }
            b'?' if !opts.whole => break,
            _ => {}
        }
        end += 1;
    }
    &uri[..end]
}

/// `url_param`: the value of the first `name=` parameter of the query string.
pub fn url_param<'a>(uri: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let q = memchr_pos(uri, b'?')?;
    find_param(&uri[q + 1..], name, false)
}

/// `url_param ... check_post`: the same in a form-encoded body; a value that is
/// not URL-encoded (binary) means there are no parameters.
pub fn body_param<'a>(body: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    find_param(body, name, true)
}

fn find_param<'a>(mut params: &'a [u8], name: &[u8], body: bool) -> Option<&'a [u8]> {
    let plen = name.len();
    // Every iteration consumes at least one byte, so this ends.
    while params.len() > plen {
        if params[plen] == b'=' && &params[..plen] == name {
            let value = &params[plen + 1..];
            let mut end = 0;
            while end < value.len() && value[end] != b'&' {
                let c = value[end];
                if body && !is_token(c) {
                    if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    return None;
                }
                end += 1;
            }
            return Some(&value[..end]);
        }
        let amp = memchr_pos(params, b'&')?;
        params = &params[amp + 1..];
    }
    None
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn memchr_pos(s: &[u8], c: u8) -> Option<usize> {
    s.iter().position(|&b| b == c)
}

/// The first comma-separated element of a header value, without surrounding
/// blanks (a comma inside double quotes does not split); `None` when empty.
pub fn first_header_value(v: &[u8]) -> Option<&[u8]> {
    let mut quoted = false;
    let mut escaped = false;
    let mut end = v.len();
    for (i, &c) in v.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && c == b'\\' {
            escaped = true;
        } else if c == b'"' {
            quoted = !quoted;
        } else if c == b',' && !quoted {
            end = i;
            break;
        }
    }
    let v = trim(&v[..end]);
    (!v.is_empty()).then_some(v)
}

fn trim(v: &[u8]) -> &[u8] {
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let start = v.iter().position(|c| !blank(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|c| !blank(c)).map_or(start, |e| e + 1);
    &v[start..end]
}

/// `hdr(name) use_domain_only`: the label before the last dot (`example` in
/// `www.example.com`); the whole value when it has no dot.
pub fn domain_only(v: &[u8]) -> &[u8] {
    // HAProxy scans backwards and never takes the first byte as the last dot,
    // nor the byte just before that dot as the previous one. (It also peeks at
    // one byte past the value, left over in its buffer; taken here as not a dot.)
    let Some(end) = v.iter().skip(1).rposition(|&c| c == b'.').map(|p| p + 1) else {
        return v;
    };
    let start = v[..end - 1]
        .iter()
        .rposition(|&c| c == b'.')
        .map_or(0, |d| d + 1);
    &v[start..end]
}

/// The value of `Cookie: <name>=<value>\r\n` in an RDP connection request (after
/// the 11-byte TPKT and X.224 headers); `None` if absent or incomplete.
pub fn rdp_cookie<'a>(payload: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let data = payload.get(11..)?;
    if data.len() <= 7 || !data[..7].eq_ignore_ascii_case(b"Cookie:") {
        return None;
    }
    let data = &data[7..];
    let data = &data[data.iter().position(|&c| c != b' ')?..];
    let value = if name.is_empty() {
        let eq = data
            .iter()
            .position(|&c| matches!(c, b'=' | b'\r' | b'\n'))?;
        if data[eq] != b'=' {
            return None;
        }
        &data[eq + 1..]
    } else {
        if data.len() <= name.len()
            || data[name.len()] != b'='
            || !data[..name.len()].eq_ignore_ascii_case(name)
        {
            return None;
        }
        &data[name.len() + 1..]
    };
    let cr = value.iter().position(|&c| c == b'\r')?;
    (value.get(cr + 1) == Some(&b'\n')).then_some(&value[..cr])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_key_stops_at_query_unless_whole() {
        let o = UriOpts::default();
        assert_eq!(uri_key(b"/a/b?c=1", &o), b"/a/b");
        let o = UriOpts { whole: true, ..o };
        assert_eq!(uri_key(b"/a/b?c=1", &o), b"/a/b?c=1");
    }

    #[test]
    fn uri_key_depth_and_len() {
        let o = UriOpts {
            depth: Some(1),
            ..UriOpts::default()
        };
        assert_eq!(uri_key(b"/a/b/c", &o), b"/a");
        let o = UriOpts {
            depth: Some(2),
            ..UriOpts::default()
        };
        assert_eq!(uri_key(b"/a/b/c", &o), b"/a/b");
        let o = UriOpts {
            len: Some(3),
            ..UriOpts::default()
        };
        assert_eq!(uri_key(b"/abcdef", &o), b"/ab");
    }

    #[test]
    fn path_only_drops_scheme_and_authority() {
        assert_eq!(uri_path(b"http://h:80/x?y"), b"/x?y");
        assert_eq!(uri_path(b"/x"), b"/x");
        assert_eq!(uri_path(b"http://h"), b"");
        assert_eq!(uri_path(b"h:443"), b"");
        let o = UriOpts {
            path_only: true,
            ..UriOpts::default()
        };
        assert_eq!(uri_key(b"https://h/p?q", &o), b"/p");
    }

    #[test]
    fn url_param_finds_exact_names_only() {
        assert_eq!(url_param(b"/p?ab=1&a=2&c=3", b"a"), Some(&b"2"[..]));
        assert_eq!(url_param(b"/p?a=", b"a"), Some(&b""[..]));
        assert_eq!(url_param(b"/p?b=1", b"a"), None);
        assert_eq!(url_param(b"/p", b"a"), None);
        assert_eq!(url_param(b"/p?xa=1", b"a"), None);
    }

    #[test]
    fn body_param_rejects_binary() {
        assert_eq!(body_param(b"x=1&id=42\r\n", b"id"), Some(&b"42"[..]));
        assert_eq!(body_param(b"id=\x01\x02", b"id"), None);
    }

    #[test]
    fn header_first_element_and_domain() {
        assert_eq!(first_header_value(b" a , b"), Some(&b"a"[..]));
        assert_eq!(first_header_value(b"\"x,y\",z"), Some(&b"\"x,y\""[..]));
        assert_eq!(first_header_value(b"  "), None);
        assert_eq!(domain_only(b"www.example.com"), b"example");
        assert_eq!(domain_only(b"example.com"), b"example");
        assert_eq!(domain_only(b"localhost"), b"localhost");
        assert_eq!(domain_only(b".com"), b".com");
        assert_eq!(domain_only(b"a..com"), b"a.");
    }

    #[test]
    fn rdp_cookie_parses_mstshash() {
        let mut p = vec![3u8, 0, 0, 0x2c, 0x27, 0xe0, 0, 0, 0, 0, 0];
        p.extend_from_slice(b"Cookie: mstshash=alice\r\n\x01\x00");
        assert_eq!(rdp_cookie(&p, b"mstshash"), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie(&p, b"other"), None);
        assert_eq!(rdp_cookie(&p[..p.len() - 4], b"mstshash"), None);
    }

    #[test]
    fn source_hash_xors_words() {
        assert_eq!(source_hash("1.2.3.4".parse().unwrap()), 0x0102_0304);
        assert_eq!(source_hash("::1".parse().unwrap()), 1);
    }
}
