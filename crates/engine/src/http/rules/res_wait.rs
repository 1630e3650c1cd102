//! `http-response wait-for-body time T [at-least N]`: the response rules stop
//! until the whole body, N bytes of it or a full buffer is in (HAProxy: 504
//! past T), then go on from the waiting rule with `res.body` filled.

use super::response::RespView;
use fulcrum_proto::{BodyFraming, ResponseHead};
use std::time::{Duration, Instant};

/// The response body as `http-response` rules see it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodySeen<'b> {
    pub bytes: &'b [u8],
    /// All of it is in, or the buffer is full, or the server closed.
    pub done: bool,
    /// `false`: `wait-for-body` does not stop the rules (proxy answers).
    pub may_wait: bool,
}

impl BodySeen<'_> {
    pub(super) fn ready(&self, at_least: Option<u64>) -> bool {
        let enough = at_least.is_some_and(|n| n > 0 && self.bytes.len() as u64 >= n);
        !self.may_wait || self.done || enough
    }
}

/// Rules stopped by `wait-for-body`: the response head as they left it.
#[derive(Debug)]
pub(super) struct Paused {
    pub status: u16,
    pub reason: Option<Vec<u8>>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub dirty: bool,
}

/// What goes from one run of the response rules to the next while the body
/// comes in.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    paused: Option<Box<Paused>>,
    /// `(list, rule)` of the waiting rule: its deadline runs from its first stop.
    at: Option<(usize, usize)>,
    deadline: Option<Instant>,
    /// The server closed: what is buffered is all there will be.
    pub eof: bool,
}

impl Waiting {
    /// The body after `head` in `buf` (`full`: the buffer has no room left).
    pub(crate) fn body<'b>(&self, head: &ResponseHead, buf: &'b [u8], full: bool) -> BodySeen<'b> {
        let rest = buf.get(head.head_len..).unwrap_or_default();
        let (bytes, complete) = match head.framing {
            BodyFraming::ContentLength(n) => {
                let len = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                (&rest[..len], len as u64 >= n)
            }
            // As on the request side: the chunked bytes as they came, whole
            // once the last chunk is in.
            BodyFraming::Chunked => {
                let mut d = fulcrum_proto::chunked::ChunkedDecoder::with_limit(buf.len().max(1));
                (rest, d.feed(rest).map_or(true, |f| f.done))
            }
            BodyFraming::CloseDelimited => (rest, false),
            BodyFraming::None => (&[][..], true),
        };
        BodySeen {
            bytes,
            done: complete || full || self.eof,
            may_wait: true,
        }
    }

    /// When the rules wait: until when more of the body may come.
    pub(crate) fn until(&self) -> Option<Instant> {
        self.paused.as_ref().and(self.deadline)
    }

    /// Stops the rules at `rule` of list `list`, keeping the head they edited.
    pub(super) fn pause(
        &mut self,
        view: &mut RespView<'_>,
        list: usize,
        rule: usize,
        time_ms: u64,
    ) {
        if self.at != Some((list, rule)) || self.deadline.is_none() {
            self.deadline = Some(Instant::now() + Duration::from_millis(time_ms));
        }
        self.at = Some((list, rule));
        self.paused = Some(Box::new(view.paused()));
    }

    /// Puts the kept head back on `view`; where the rules go on, if they waited.
    pub(super) fn resume(&mut self, view: &mut RespView<'_>) -> Option<(usize, usize)> {
        let p = self.paused.take()?;
        view.restore(*p);
        self.at
    }
}

/// Reads more of the response into `sbuf` until `until`; `Ok(false)` when the
/// time is up, `Ok(true)` when bytes came (or the server closed: `w.eof`).
pub(crate) async fn read_more(
    sr: &mut tokio::net::tcp::ReadHalf<'_>,
    sbuf: &mut crate::buf::Buf,
    until: Instant,
    w: &mut Waiting,
) -> std::io::Result<bool> {
    match tokio::time::timeout_at(until.into(), sbuf.fill_from(sr)).await {
        Err(_) => Ok(false),
        Ok(Ok(0)) => {
            w.eof = true;
            Ok(true)
        }
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) => Err(e),
    }
}
