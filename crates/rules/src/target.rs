//! The side (request or response) an HTTP rule list reads and edits.

use crate::fetch::Ctx;
use crate::view::{RequestView, ResponseView, SessionView};

/// The side of the transaction a rule list edits.
pub(crate) trait Target {
    fn ctx(&self) -> Ctx<'_>;
    fn sess_mut(&mut self) -> &mut dyn SessionView;
    fn hdr_count(&self) -> usize;
    fn hdr(&self, i: usize) -> Option<(&[u8], &[u8])>;
    fn hdr_add(&mut self, n: &[u8], v: &[u8]);
    fn hdr_set(&mut self, i: usize, v: &[u8]);
    fn hdr_remove(&mut self, i: usize);
    /// The request, when this side may edit it.
    fn req_mut(&mut self) -> Option<&mut dyn RequestView>;
    fn set_status(&mut self, _status: u16, _reason: Option<&[u8]>) {}
    fn is_response(&self) -> bool;
    /// The response status (0 on the request side).
    fn status(&self) -> u16 {
        0
    }
    /// Whether `wait-for-body` may go on.
    fn body_ready(&self, _at_least: Option<u64>) -> bool {
        true
    }
}

pub(crate) struct ReqT<'a, V>(pub &'a mut V);
pub(crate) struct ResT<'a, V>(pub &'a mut V);

impl<V: RequestView> Target for ReqT<'_, V> {
    fn ctx(&self) -> Ctx<'_> {
        Ctx::request(&*self.0)
    }
    fn sess_mut(&mut self) -> &mut dyn SessionView {
        self.0
    }
    fn hdr_count(&self) -> usize {
        self.0.header_count()
    }
    fn hdr(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.0.header(i)
    }
    fn hdr_add(&mut self, n: &[u8], v: &[u8]) {
        self.0.add_header(n, v)
    }
    fn hdr_set(&mut self, i: usize, v: &[u8]) {
        self.0.set_header_value(i, v)
    }
    fn hdr_remove(&mut self, i: usize) {
        self.0.remove_header(i)
    }
    fn req_mut(&mut self) -> Option<&mut dyn RequestView> {
        Some(self.0)
    }
    fn is_response(&self) -> bool {
        false
    }
    fn body_ready(&self, at_least: Option<u64>) -> bool {
        self.0.body_ready(at_least)
    }
}

impl<V: ResponseView> Target for ResT<'_, V> {
    fn ctx(&self) -> Ctx<'_> {
        Ctx::response(&*self.0)
    }
    fn sess_mut(&mut self) -> &mut dyn SessionView {
        self.0
    }
    fn hdr_count(&self) -> usize {
        self.0.res_header_count()
    }
    fn hdr(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.0.res_header(i)
    }
    fn hdr_add(&mut self, n: &[u8], v: &[u8]) {
        self.0.res_add_header(n, v)
    }
    fn hdr_set(&mut self, i: usize, v: &[u8]) {
        self.0.res_set_header_value(i, v)
    }
    fn hdr_remove(&mut self, i: usize) {
        self.0.res_remove_header(i)
    }
    fn req_mut(&mut self) -> Option<&mut dyn RequestView> {
        None
    }
    fn set_status(&mut self, status: u16, reason: Option<&[u8]>) {
        self.0.set_status(status, reason)
    }
    fn is_response(&self) -> bool {
        true
    }
    fn status(&self) -> u16 {
        self.0.status()
    }
    fn body_ready(&self, at_least: Option<u64>) -> bool {
        self.0.res_body_ready(at_least)
    }
}
