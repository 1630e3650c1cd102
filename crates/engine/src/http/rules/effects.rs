//! Effects of `http-request` actions outside the request head: captures, log
//! level, addresses, early hints and the unique id, applied once rules ran.

use super::super::session::Session;
use fulcrum_config::rules::TimeoutKind;
use fulcrum_rules::view::Effect;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Timeouts `set-timeout` gave one stream.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StreamTimeouts {
    pub server: Option<Duration>,
    pub tunnel: Option<Duration>,
}

/// What `http-request` actions asked of the session beyond the head itself
/// (captures, log level, addresses, early hints), applied once rules ran.
#[derive(Default)]
pub(crate) struct Effects {
    /// `(id, value)`: `id` names a `declare capture` slot, `None` takes a new one.
    captures: Vec<(Option<usize>, String)>,
    level: Option<crate::log::LevelOverride>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    /// `set-src-port` / `set-dst-port`.
    ports: (Option<u16>, Option<u16>),
    early_hints: Vec<(Vec<u8>, Vec<u8>)>,
    pub(super) unique_id: Option<Vec<u8>>,
    /// The `capture request header` slots of this request.
    pub(super) declared: Vec<Option<String>>,
    /// The variables of a request the rules answered themselves, for its log line.
    pub(super) log_vars: Option<fulcrum_rules::Vars>,
    /// `set-timeout server|tunnel`: this stream's timeouts instead of the backend's.
    pub(super) timeouts: Option<StreamTimeouts>,
}

impl Effects {
    pub(super) fn record(&mut self, e: Effect<'_>, src: &mut SocketAddr, dst: &mut SocketAddr) {
        match e {
            Effect::Capture { id, value, .. } => self
                .captures
                .push((id, String::from_utf8_lossy(value).into_owned())),
            Effect::SetLogLevel(l) => {
                if let Some(l) = crate::log::LevelOverride::parse(l) {
                    self.level = Some(l);
                }
            }
            // The port stays when the family allows it (configuration.txt "set-src").
            Effect::SetSrc(ip) => {
                *src = SocketAddr::new(ip, src.port());
                self.src = Some(ip);
            }
            Effect::SetDst(ip) => {
                *dst = SocketAddr::new(ip, dst.port());
                self.dst = Some(ip);
            }
            Effect::SetSrcPort(p) => {
                src.set_port(p);
                self.ports.0 = Some(p);
            }
            Effect::SetDstPort(p) => {
                dst.set_port(p);
                self.ports.1 = Some(p);
            }
            Effect::SetTimeout { kind, ms } => {
                let t = self.timeouts.get_or_insert_with(Default::default);
                let d = Some(std::time::Duration::from_millis(ms));
                match kind {
                    TimeoutKind::Server => t.server = d,
                    TimeoutKind::Tunnel => t.tunnel = d,
                    // HAProxy allows `client` only in recent versions; the
                    // client side keeps the frontend's timeout here.
                    TimeoutKind::Client => {}
                }
            }
            Effect::EarlyHint { name, value } => {
                self.early_hints.push((name.to_vec(), value.to_vec()))
            }
            _ => {}
        }
    }

    /// Capture slot `slot` as the rules see it so far (`capture.req.hdr(N)`):
    /// declared headers first, then `http-request capture` values.
    pub(super) fn captured(&self, slot: usize) -> Option<&str> {
        captured_slot(&self.captures, &self.declared, slot)
    }

    /// Every request capture slot as the rules left them, for `capture.req.hdr(N)`
    /// in `http-response` rules.
    pub(super) fn request_slots(&self) -> Vec<Option<String>> {
        let taken = self.captures.iter().filter(|(id, _)| id.is_none()).count();
        let by_id = self.captures.iter().filter_map(|(id, _)| *id).max();
        let len = (self.declared.len() + taken).max(by_id.map_or(0, |i| i + 1));
        (0..len)
            .map(|i| self.captured(i).map(str::to_string))
            .collect()
    }

    /// The `103 Early Hints` interim response, when rules asked for one.
    pub(super) fn early_response(&self) -> Option<Vec<u8>> {
        if self.early_hints.is_empty() {
            return None;
        }
        let mut out = b"HTTP/1.1 103 Early Hints\r\n".to_vec();
        for (n, v) in &self.early_hints {
            for part in [&n[..], b": ", v, b"\r\n"] {
                out.extend_from_slice(part);
            }
        }
        out.extend_from_slice(b"\r\n");
        Some(out)
    }

    /// Hands the effects to the session: addresses for later requests and the
    /// log, captures and the log level to the transaction's log.
    pub(super) fn apply(self, s: &mut Session<'_>) {
        if let Some(ip) = self.src {
            s.addrs.src = SocketAddr::new(ip, s.addrs.src.port());
        }
        if let Some(ip) = self.dst {
            s.addrs.dst = SocketAddr::new(ip, s.addrs.dst.port());
        }
        if let Some(p) = self.ports.0 {
            s.addrs.src.set_port(p);
        }
        if let Some(p) = self.ports.1 {
            s.addrs.dst.set_port(p);
        }
        let declared = s.fe.http.captures.request_headers.len();
        let Some(l) = s.log.as_mut() else {
            return;
        };
        if let Some(level) = self.level {
            l.set_level(level);
        }
        l.set_addrs(s.addrs.src, s.addrs.dst);
        if let Some(id) = self.unique_id {
            l.unique_id = Some(String::from_utf8_lossy(&id).into_owned());
        }
        fill_slots(&mut l.request_captures, declared, self.captures);
        if let Some(v) = &self.log_vars {
            l.set_vars(v);
        }
    }
}

/// Capture slot `slot` as rules see it so far (`capture.req.hdr(N)`,
/// `capture.res.hdr(N)`): an `id N` capture, else the declared header, else the
/// capture taken that many places after the declared ones.
pub(super) fn captured_slot<'c>(
    captures: &'c [(Option<usize>, String)],
    declared: &'c [Option<String>],
    slot: usize,
) -> Option<&'c str> {
    if let Some((_, v)) = captures.iter().rev().find(|(id, _)| *id == Some(slot)) {
        return Some(v);
    }
    if let Some(v) = declared.get(slot) {
        return v.as_deref();
    }
    let extra = slot - declared.len();
    captures
        .iter()
        .filter(|(id, _)| id.is_none())
        .nth(extra)
        .map(|(_, v)| v.as_str())
}

/// Puts `http-request|response capture` values in the log's capture slots:
/// `id N` fills slot N, a `len` capture takes the next slot after the declared ones.
pub(super) fn fill_slots(
    taken: &mut Option<crate::log::Taken>,
    declared: usize,
    caps: Vec<(Option<usize>, String)>,
) {
    if caps.is_empty() {
        return;
    }
    let slots = &mut taken.get_or_insert_with(|| (vec![None; declared], None)).0;
    slots.resize(slots.len().max(declared), None);
    for (id, v) in caps {
        match id {
            Some(i) => {
                if slots.len() <= i {
                    slots.resize(i + 1, None);
                }
                slots[i] = Some(v);
            }
            None => slots.push(Some(v)),
        }
    }
}

thread_local! {
    /// The `103 Early Hints` answer `decide` just built; each worker thread runs
    /// one runtime, and the session sends it right after `decide` returns.
    static EARLY_HINTS: std::cell::Cell<Option<Vec<u8>>> = const { std::cell::Cell::new(None) };
}

/// Sends the `early-hint` lines of the request just decided as an interim 103
/// (kept out of [`Decision`] so idle sessions stay small).
pub(crate) async fn send_early_hints(s: &mut Session<'_>) {
    if let Some(h) = EARLY_HINTS.take() {
        let w = tokio::io::AsyncWriteExt::write_all(&mut s.client, &h);
        let _ = super::super::body::with_timeout(s.fe.timeouts.client, w).await;
    }
}

pub(super) fn stash_early_hints(h: Option<Vec<u8>>) {
    EARLY_HINTS.set(h);
}
