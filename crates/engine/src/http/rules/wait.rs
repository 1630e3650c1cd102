//! `wait-for-body` in the request rules: how much of the body is there, and
//! the rules' state kept while the session reads more of it.

use super::effects::Effects;
use super::{Decision, ReqView};
use fulcrum_rules::Vars;
use std::net::SocketAddr;

/// Request rules stopped by `wait-for-body`: the request as they left it and
/// where they go on, so no rule runs twice.
pub(crate) struct Paused {
    method: Vec<u8>,
    uri: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    vars: Vars,
    dirty: bool,
    src: SocketAddr,
    dst: SocketAddr,
    pub(super) fx: Effects,
    /// `None`: in the frontend's rules; `Some(i)`: in backend `i`'s.
    backend: Option<usize>,
    /// The `wait-for-body` rule's index in its list.
    rule: usize,
}

impl Paused {
    /// Puts the rules' edits back on a view made from the request (whose body
    /// is now longer); returns where to go on.
    pub(super) fn restore(self, view: &mut ReqView<'_>) -> (Option<usize>, usize) {
        view.method = self.method;
        view.uri = self.uri;
        view.headers = self.headers;
        view.vars = self.vars;
        view.dirty = self.dirty;
        view.src = self.src;
        view.dst = self.dst;
        (self.backend, self.rule)
    }
}

/// Stops the rules at `rule`; [`super::decide`] adds the effects.
pub(super) fn pause(
    view: ReqView<'_>,
    time_ms: u64,
    at_least: Option<u64>,
    backend: Option<usize>,
    rule: usize,
) -> Decision {
    Decision::WaitBody {
        time: std::time::Duration::from_millis(time_ms),
        at_least,
        paused: Box::new(Paused {
            method: view.method,
            uri: view.uri,
            headers: view.headers,
            vars: view.vars,
            dirty: view.dirty,
            src: view.src,
            dst: view.dst,
            fx: Effects::default(),
            backend,
            rule,
        }),
    }
}

/// The request body buffered after the head (within its length), and whether
/// it is all there; a chunked body that does not decode counts as all there
/// (forwarding reports the error).
pub(super) fn buffered_body<'b>(
    req: &fulcrum_proto::RequestHead,
    buf: &'b [u8],
    max_head: usize,
) -> (&'b [u8], bool) {
    use fulcrum_proto::BodyFraming;
    let rest = buf.get(req.head_len..).unwrap_or_default();
    match req.framing {
        BodyFraming::ContentLength(n) => {
            let len = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
            (&rest[..len], len as u64 >= n)
        }
        BodyFraming::Chunked => {
            let mut d = fulcrum_proto::chunked::ChunkedDecoder::with_limit(max_head);
            (rest, d.feed(rest).map_or(true, |f| f.done))
        }
        BodyFraming::None | BodyFraming::CloseDelimited => (&[], true),
    }
}
