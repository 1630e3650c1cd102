//! `tcp-response content` rules of a `mode tcp` backend: they judge the
//! server's first bytes (waiting up to `tcp-response inspect-delay` while more
//! data could change a rule's outcome), while the client's data keeps flowing
//! to the server so that client-speaks-first protocols work. In `mode http`
//! they run once the response head is parsed, before `http-response` rules.

use crate::buf::Buf;
use crate::connect::ClientAddrs;
use crate::runtime::{Backend, Frontend};
use crate::tcp_rules::{TcpFx, TcpView};
use fulcrum_config::rules::TcpLayer;
use fulcrum_rules::{run_tcp, TcpVerdict};
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How response inspection ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inspected {
    /// Rules let the response through: forward, starting with `sbuf`.
    Pass,
    /// `close` (what the server sent so far went to the client) or `reject`
    /// (nothing did): the session is over.
    Closed,
    /// Nothing moved either way for the tunnel's idle timeout.
    Timeout,
}

/// Who the rules run for and what they may read.
pub(crate) struct RespCtx<'a> {
    pub fe: &'a Frontend,
    pub be: &'a Backend,
    /// The server connected to: name and id (`srv_name`, `srv_id`).
    pub server: Option<(std::sync::Arc<str>, i64)>,
    pub addrs: ClientAddrs,
    /// The tunnel's idle timeout: how long to wait for the server's first data.
    pub idle: Option<Duration>,
}

/// Whether `be` has `tcp-response content` rules to run.
pub(crate) fn wanted(be: &Backend) -> bool {
    be.rules
        .as_ref()
        .is_some_and(|r| r.tcp.has(TcpLayer::ResponseContent))
}

/// What `tcp-response content` rules decided about an HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HttpInspected {
    Pass,
    /// `close`: the response goes to the client, the server connection ends.
    CloseServer,
    /// `reject`/`silent-drop`: both connections close, the client gets nothing.
    Reject,
}

/// The backend's `tcp-response content` rules over a parsed HTTP response
/// head. The head is complete, so a rule waiting for more data goes on.
pub(crate) fn run_http(be: &Backend, view: &mut impl fulcrum_rules::ResponseView) -> HttpInspected {
    let Some(rules) = be.rules.as_ref().filter(|_| wanted(be)) else {
        return HttpInspected::Pass;
    };
    match fulcrum_rules::run_tcp_http_response(&rules.tcp, view) {
        TcpVerdict::Reject | TcpVerdict::SilentDrop => HttpInspected::Reject,
        TcpVerdict::Close => HttpInspected::CloseServer,
        TcpVerdict::Accept
        | TcpVerdict::Continue
        | TcpVerdict::Wait
        | TcpVerdict::UseService(_) => HttpInspected::Pass,
    }
}

/// Runs the backend's `tcp-response content` rules once the server sent data
/// (or closed, or the inspect delay expired), forwarding the client's bytes
/// meanwhile. `up` counts the client bytes forwarded, `down` the server bytes.
pub(crate) async fn inspect(
    cx: &RespCtx<'_>,
    client: &mut TcpStream,
    cbuf: &mut Buf,
    server: &mut TcpStream,
    sbuf: &mut Buf,
    fx: &mut TcpFx,
    moved: &mut crate::tunnel::Moved,
) -> io::Result<Inspected> {
    let Some(rules) = cx.be.rules.as_ref() else {
        return Ok(Inspected::Pass);
    };
    let delay = rules
        .tcp
        .response_inspect_delay_ms
        .map(Duration::from_millis);
    let deadline = delay.map(|d| Instant::now() + d);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    // What the client sent before the server was connected goes first.
    if !cbuf.is_empty() {
        sw.write_all(cbuf.readable()).await?;
        moved.up += cbuf.len() as u64;
        cbuf.consume(cbuf.len());
    }
    let (mut client_eof, mut server_eof) = (false, false);
    let mut activity = Instant::now();
    // `txn.`/`sess.` variables of the request rules stay; `req.` ones end with the request.
    let mut vars = std::mem::take(&mut fx.vars);
    vars.clear_scope("req");
    // Bounded: each round reads bytes, sees an end of stream, or a deadline passes.
    for _ in 0..65536 {
        let now = Instant::now();
        let expired = deadline.is_some_and(|d| now >= d);
        if !sbuf.is_empty() || server_eof || expired {
            // Without a delay the first data decides (HAProxy's final evaluation).
            let ended = delay.is_none() || expired || server_eof || sbuf.is_full();
            let mut view = TcpView {
                fe: cx.fe,
                be: Some(cx.be),
                server: cx.server.clone(),
                addrs: cx.addrs,
                payload: &[],
                res_payload: sbuf.readable(),
                ended,
                vars,
                track: None,
                fx: &mut *fx,
            };
            let v = run_tcp(&rules.tcp, TcpLayer::ResponseContent, &mut view);
            vars = view.vars;
            match v {
                TcpVerdict::Wait if !ended => {}
                TcpVerdict::Reject | TcpVerdict::SilentDrop => return Ok(Inspected::Closed),
                TcpVerdict::Close => {
                    // The server's connection ends; what it sent still reaches the client.
                    cw.write_all(sbuf.readable()).await?;
                    moved.down += sbuf.len() as u64;
                    sbuf.consume(sbuf.len());
                    let _ = cw.shutdown().await;
                    return Ok(Inspected::Closed);
                }
                _ => return Ok(Inspected::Pass),
            }
        }
        let idle_end = cx.idle.map(|t| activity + t);
        let wake = match (deadline.filter(|_| !expired), idle_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = async {
            match wake {
                Some(w) => tokio::time::sleep_until(w).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = cbuf.fill_from(&mut cr), if !client_eof => {
                if r? == 0 {
                    client_eof = true;
                    let _ = sw.shutdown().await;
                } else {
                    sw.write_all(cbuf.readable()).await?;
                    moved.up += cbuf.len() as u64;
                    cbuf.consume(cbuf.len());
                }
                activity = Instant::now();
            }
            r = sbuf.fill_from(&mut sr), if !server_eof && !sbuf.is_full() => {
                server_eof = r? == 0;
                activity = Instant::now();
            }
            () = sleep => {
                if idle_end.is_some_and(|t| Instant::now() >= t) {
                    return Ok(Inspected::Timeout);
                }
            }
        }
    }
    Ok(Inspected::Pass)
}
