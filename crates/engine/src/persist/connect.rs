//! Reaching the server persistence names: it bypasses the balancer; when the
//! connection fails after the retries, `option redispatch` lets the balancer
//! pick another server (the response then corrects the client's cookie),
//! otherwise the request fails (503).

use std::sync::Arc;

use fulcrum_config::model::persist::StickKind;
use fulcrum_persist::cookie::AfterFailure;
use fulcrum_persist::StickTable;

use super::{now_ms, server_id, SessionState, Source};
use crate::connect::{self, ClientAddrs, ConnectError, Connected, Reuse, Tried};
use crate::runtime::Backend;
use crate::select::SelectKey;

/// Connects for the current request: to the persistent server when there is
/// one (and `exclude` is unset: a retry elsewhere was not asked), else through
/// the balancer. Then `stick on` / `stick store-request` learn the server.
pub(crate) async fn connect(
    st: Option<&SessionState>,
    be: &Backend,
    client: ClientAddrs,
    key: &dyn SelectKey,
    exclude: Option<usize>,
    reuse: Reuse<'_>,
) -> Result<Connected, ConnectError> {
    let target = st
        .and_then(|s| s.req.try_borrow().ok().and_then(|r| r.target))
        .filter(|_| exclude.is_none());
    let (Some(st), Some(t)) = (st, target) else {
        let c = connect::connect(be, client, key, exclude, reuse).await;
        if let (Some(st), Ok(c)) = (st, &c) {
            learn(st, be, c.lease.as_ref().map(|l| l.server));
        }
        return c;
    };
    let failed = match direct(be, client, t.server, reuse).await {
        Ok(c) => {
            learn(st, be, Some(t.server));
            return Ok(c);
        }
        Err(e) => e,
    };
    let redispatch = be.redispatch.is_some();
    let after = match st.req.try_borrow_mut() {
        Ok(mut r) => {
            r.target = None;
            if t.source == Source::Cookie {
                r.cookie.connect_failed(redispatch)
            } else if redispatch {
                AfterFailure::Redispatch
            } else {
                AfterFailure::ServiceUnavailable
            }
        }
        Err(_) => AfterFailure::ServiceUnavailable,
    };
    if after == AfterFailure::ServiceUnavailable {
        return Err(failed);
    }
    let before = match &failed {
        ConnectError::Failed(_, t) => *t,
        ConnectError::NoServer(_) => Tried::default(),
    };
    let c = connect::connect(be, client, key, Some(t.server), reuse).await;
    match c {
        Ok(mut c) => {
            learn(st, be, c.lease.as_ref().map(|l| l.server));
            c.tried = c.tried.after(before);
            Ok(c)
        }
        Err(ConnectError::Failed(e, t)) => Err(ConnectError::Failed(e, t.after(before))),
        Err(e) => Err(e),
    }
}

/// Server `i` whatever the balancer would say, retried `retries` times.
async fn direct(
    be: &Backend,
    client: ClientAddrs,
    i: usize,
    reuse: Reuse<'_>,
) -> Result<Connected, ConnectError> {
    let srv = be
        .servers
        .get(i)
        .ok_or(ConnectError::NoServer(crate::select::NoServer::Unavailable))?;
    let lease = be
        .lb
        .lease_server(i, be.timeouts.queue.or(be.timeouts.connect))
        .await
        .map_err(ConnectError::NoServer)?;
    let mut tried = Tried {
        server: Some(i),
        dequeued: Some(std::time::Instant::now()),
        ..Tried::default()
    };
    if let Some(stream) = reuse(i, srv) {
        return Ok(connect::connected(stream, Some(lease), true, tried));
    }
    loop {
        let e = match connect::attempt(be, i, client).await {
            Ok(stream) => return Ok(connect::connected(stream, Some(lease), false, tried)),
            Err(e) => e,
        };
        if tried.retries >= be.retries || !be.retry_on.conn_failure {
            return Err(ConnectError::Failed(e, tried));
        }
        tried.retries += 1;
        connect::turn_around(be).await;
    }
}

/// The server is known: remember it, and store it under the keys of `stick on`
/// and `stick store-request` (not for `non-stick` servers).
fn learn(st: &SessionState, be: &Backend, server: Option<usize>) {
    let Ok(mut r) = st.req.try_borrow_mut() else {
        return;
    };
    r.server = server;
    let Some(i) = server else { return };
    if be.persist.non_stick.get(i).copied().unwrap_or(false) {
        return;
    }
    let Some(id) = server_id(be, i) else { return };
    let now = now_ms();
    let rules = be.persist.stick_rules();
    // As in HAProxy, the first storing rule of each table stores.
    let mut stored: Vec<*const StickTable> = Vec::new();
    for (ri, key) in &r.stick_keys {
        let Some(rule) = rules.get(*ri) else { continue };
        if !matches!(rule.kind, StickKind::On | StickKind::StoreRequest) {
            continue;
        }
        if let Some(t) = &rule.table {
            if stored.contains(&Arc::as_ptr(t)) {
                continue;
            }
            stored.push(Arc::as_ptr(t));
            // A table without `server_id` cannot stick: nothing to do.
            let _ = t.stick_store(key, id, now);
        }
    }
}
