//! The request as `stats admin if COND` and `monitor fail` see it:
//! read-only, copied from the head, with live stats for `nbsrv()` and co.

use crate::runtime::Frontend;
use fulcrum_proto::RequestHead;
use fulcrum_rules::view::{RequestView, SessionView, Stats};
use fulcrum_rules::Vars;
use std::net::SocketAddr;

pub(crate) struct StatsView<'a> {
    fe: &'a Frontend,
    src: SocketAddr,
    dst: SocketAddr,
    method: Vec<u8>,
    uri: Vec<u8>,
    version: &'static [u8],
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    vars: Vars,
}

impl<'a> StatsView<'a> {
    pub(crate) fn new(
        fe: &'a Frontend,
        req: &RequestHead,
        buf: &[u8],
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Self {
        StatsView {
            fe,
            src,
            dst,
            method: req.method_bytes(buf).to_vec(),
            uri: req.target_bytes(buf).to_vec(),
            version: req.version.as_bytes(),
            headers: req
                .headers_in(buf)
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
            vars: Vars::default(),
        }
    }
}

impl SessionView for StatsView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.fe.name, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        None
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &super::CurrentStats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
}

// The admin condition only reads the request; edits are ignored.
impl RequestView for StatsView<'_> {
    fn method(&self) -> &[u8] {
        &self.method
    }
    fn uri(&self) -> &[u8] {
        &self.uri
    }
    fn version(&self) -> &[u8] {
        self.version
    }
    fn header_count(&self) -> usize {
        self.headers.len()
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.headers
            .get(i)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn remove_header(&mut self, _: usize) {}
}
