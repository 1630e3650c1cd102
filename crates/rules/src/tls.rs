//! Just enough of a TLS ClientHello to route TLS pass-through traffic
//! (`req.ssl_sni`, `req.ssl_hello_type`). Every length is checked: this is peer data.

/// Reads big-endian lengths and slices without ever indexing out of bounds.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))
    }
}

/// The handshake type of the first TLS record (1 = ClientHello), once the whole
/// record is buffered, so that `accept if { req_ssl_hello_type 1 }` also waits
/// for the SNI that routing reads next.
pub(crate) fn hello_type(payload: &[u8]) -> Option<u8> {
    if incomplete(payload) {
        return None;
    }
    match payload {
        [0x16, 3, _, _, _, t, ..] => Some(*t),
        _ => None,
    }
}

/// Whether the first TLS record is not fully buffered yet (or nothing is).
pub(crate) fn incomplete(payload: &[u8]) -> bool {
    match payload {
        [] => true,
        [0x16, rest @ ..] => match rest {
            [_, _, hi, lo, body @ ..] => body.len() < (usize::from(*hi) << 8 | usize::from(*lo)),
            _ => true,
        },
        _ => false,
    }
}

/// The `host_name` of the server_name extension of a ClientHello.
pub(crate) fn client_hello_sni(payload: &[u8]) -> Option<&[u8]> {
    if hello_type(payload)? != 1 {
        return None;
    }
    let mut r = Reader(payload);
    r.take(5)?; // record header
    r.take(4)?; // handshake type and length
    r.take(2 + 32)?; // client version, random
    let sid = r.u8()?;
    r.take(sid)?;
    let suites = r.u16()?;
    r.take(suites)?;
    let comp = r.u8()?;
    r.take(comp)?;
    let ext_len = r.u16()?;
    let mut exts = Reader(r.take(ext_len)?);
    while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
        let data = exts.take(len)?;
        if kind != 0 {
            continue;
        }
        let mut d = Reader(data);
        let list = d.u16()?;
        let mut names = Reader(d.take(list)?);
        while let (Some(name_type), Some(n)) = (names.u8(), names.u16()) {
            let name = names.take(n)?;
            if name_type == 0 {
                return Some(name);
            }
        }
        return None;
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal ClientHello carrying `sni`.
    pub(crate) fn client_hello(sni: &[u8]) -> Vec<u8> {
        let mut ext = Vec::new();
        let name_list_len = 3 + sni.len();
        ext.extend_from_slice(&[0, 0]); // server_name
        ext.extend_from_slice(&((name_list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(name_list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(sni);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
                                         // An unrelated extension first.
        let mut exts = vec![0, 0x0b, 0, 2, 1, 0];
        exts.extend_from_slice(&ext);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn finds_the_server_name() {
        let hello = client_hello(b"api.example.com");
        assert_eq!(hello_type(&hello), Some(1));
        assert_eq!(client_hello_sni(&hello), Some(&b"api.example.com"[..]));
        // Truncated: nothing, and no panic.
        for n in 0..hello.len() {
            let _ = client_hello_sni(&hello[..n]);
        }
        assert_eq!(client_hello_sni(b"GET / HTTP/1.1\r\n"), None);
        assert!(incomplete(&hello[..hello.len() - 1]) && incomplete(b"") && incomplete(&[0x16, 3]));
        assert!(!incomplete(&hello) && !incomplete(b"SSH-2.0"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(mut b in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = client_hello_sni(&b);
            if b.len() > 6 {
                b[0] = 0x16;
                b[1] = 3;
                b[5] = 1;
                let _ = client_hello_sni(&b);
            }
        }
    }
}
