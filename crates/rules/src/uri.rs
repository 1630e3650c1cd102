//! Request-target helpers: path, query, host of absolute URIs, parameters, cookies.

/// Byte offset where the path starts: after `scheme://authority` in absolute form.
fn path_start(uri: &[u8]) -> usize {
    if uri.first() == Some(&b'/') || uri == b"*" {
        return 0;
    }
    match memchr::memmem::find(uri, b"://") {
        Some(p) => {
            let auth = p + 3;
            uri[auth..]
                .iter()
                .position(|b| *b == b'/' || *b == b'?')
                .map_or(uri.len(), |q| auth + q)
        }
        None => 0,
    }
}

/// Path and query (`pathq`), without scheme and authority.
pub(crate) fn pathq(uri: &[u8]) -> &[u8] {
    &uri[path_start(uri)..]
}

/// Path only (`path`).
pub(crate) fn path(uri: &[u8]) -> &[u8] {
    let pq = pathq(uri);
    let end = pq
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .unwrap_or(pq.len());
    &pq[..end]
}

/// Query string without `?` (`query`); `None` without `?`.
pub(crate) fn query(uri: &[u8]) -> Option<&[u8]> {
    let q = memchr::memchr(b'?', uri)?;
    let rest = &uri[q + 1..];
    let end = memchr::memchr(b'#', rest).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The authority of an absolute URI (`url_ip`, `url_port`).
pub(crate) fn authority(uri: &[u8]) -> Option<&[u8]> {
    if uri.first() == Some(&b'/') {
        return None;
    }
    let p = memchr::memmem::find(uri, b"://")?;
    uri.get(p + 3..path_start(uri))
}

/// `name=value` pairs of the query string separated by `&` or `delim`.
pub(crate) fn params(uri: &[u8], delim: u8) -> impl Iterator<Item = (&[u8], &[u8])> {
    query(uri)
        .unwrap_or_default()
        .split(move |b| *b == b'&' || *b == delim)
        .filter(|p| !p.is_empty())
        .map(|p| match memchr::memchr(b'=', p) {
            Some(e) => (&p[..e], &p[e + 1..]),
            None => (p, &p[p.len()..]),
        })
}

/// `a=1; b=2` → (name, value) pairs.
pub(crate) fn cookies(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|b| *b == b';').filter_map(|c| {
        let c = c.trim_ascii();
        let e = memchr::memchr(b'=', c)?;
        Some((c[..e].trim_ascii(), c[e + 1..].trim_ascii()))
    })
}

/// The first `name=value` of a `Set-Cookie` header.
pub(crate) fn set_cookie(header: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = header.split(|b| *b == b';').next()?;
    let e = memchr::memchr(b'=', first)?;
    Some((first[..e].trim_ascii(), first[e + 1..].trim_ascii()))
}

/// Percent-decoding (`url_dec`); `+` becomes a space when `form` is set.
pub(crate) fn url_decode(s: &[u8], form: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
                continue;
            }
            b'+' if form => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_origin_and_absolute_forms() {
        assert_eq!(path(b"/a/b?x=1"), b"/a/b");
        assert_eq!(pathq(b"http://h:8/a?x"), b"/a?x");
        assert_eq!(path(b"http://h:8"), b"");
        assert_eq!(query(b"/a?x=1&y=2"), Some(&b"x=1&y=2"[..]));
        assert_eq!(query(b"/a"), None);
        assert_eq!(
            authority(b"http://10.0.0.1:81/x"),
            Some(&b"10.0.0.1:81"[..])
        );
        let p: Vec<_> = params(b"/?a=1&b&c=3", b'&').collect();
        assert_eq!(
            p,
            vec![
                (&b"a"[..], &b"1"[..]),
                (&b"b"[..], &b""[..]),
                (&b"c"[..], &b"3"[..])
            ]
        );
        let c: Vec<_> = cookies(b"SERVERID=s1; lang=en").collect();
        assert_eq!(c[1], (&b"lang"[..], &b"en"[..]));
        assert_eq!(url_decode(b"a%20b+c", true).unwrap(), b"a b c");
        assert!(url_decode(b"%zz", false).is_none());
    }

    use proptest::prelude::*;

    proptest! {
        /// Request targets are peer data: every helper answers without panicking, and
        /// path and query are parts of the target.
        #[test]
        fn helpers_never_panic(uri in proptest::collection::vec(prop::sample::select(b"/?#:&=%+ah.[]@".to_vec()), 0..24)) {
            let p = path(&uri);
            prop_assert!(memchr::memmem::find(&uri, p).is_some());
            let _ = pathq(&uri);
            if let Some(q) = query(&uri) {
                prop_assert!(memchr::memmem::find(&uri, q).is_some());
            }
            let _ = authority(&uri);
            let _ = params(&uri, b';').count();
            let _ = cookies(&uri).count();
            let _ = set_cookie(&uri);
            let _ = url_decode(&uri, true);
        }
    }
}
