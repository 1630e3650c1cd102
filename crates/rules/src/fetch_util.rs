//! Small parsers used by fetches: versions, authorities, RDP cookies, UUIDs.

pub(crate) fn strip_http(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"HTTP/").unwrap_or(v)
}

pub(crate) fn split_host_port(auth: &[u8]) -> (&[u8], Option<u16>) {
    let auth = match memchr::memrchr(b'@', auth) {
        Some(p) => &auth[p + 1..],
        None => auth,
    };
    if let Some(rest) = auth.strip_prefix(b"[") {
        let end = memchr::memchr(b']', rest).unwrap_or(rest.len());
        let port = rest
            .get(end + 2..)
            .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok());
        return (&rest[..end], port);
    }
    match memchr::memrchr(b':', auth) {
        Some(p) => (
            &auth[..p],
            std::str::from_utf8(&auth[p + 1..])
                .ok()
                .and_then(|s| s.parse().ok()),
        ),
        None => (auth, None),
    }
}

/// The `Cookie: name=value` line of an RDP connection request.
pub(crate) fn rdp_cookie<'a>(payload: &'a [u8], name: Option<&[u8]>) -> Option<&'a [u8]> {
    let start = memchr::memmem::find(payload, b"Cookie: ")? + 8;
    let rest = &payload[start..];
    let end = memchr::memmem::find(rest, b"\r\n")?;
    let line = &rest[..end];
    let eq = memchr::memchr(b'=', line)?;
    if name.is_some_and(|n| !line[..eq].eq_ignore_ascii_case(n)) {
        return None;
    }
    Some(&line[eq + 1..])
}

pub(crate) fn uuid4(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// `req.payload(off,len)` / `res.payload(off,len)`: `len` 0 takes the rest;
/// nothing while the buffer does not hold the whole range yet.
pub(crate) fn payload_slice(p: &[u8], off: usize, len: usize) -> Option<crate::value::Sample<'_>> {
    let end = if len == 0 {
        p.len()
    } else {
        off.checked_add(len)?
    };
    Some(crate::value::Sample::Bin(std::borrow::Cow::Borrowed(
        p.get(off..end)?,
    )))
}
