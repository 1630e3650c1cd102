//! 1.x directives that HAProxy 2.x refuses: Fulcrum accepts them with their old meaning
//! and a warning naming the modern form.

use super::value::{parse_time, TimeUnit};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::model::Proxy;

/// `contimeout`, `clitimeout`, `srvtimeout` (removed in HAProxy 2.1).
pub(crate) fn old_timeout(
    kw: &str,
    args: &[String],
    span: &Span,
    p: &mut Proxy,
    d: &mut Diagnostics,
) {
    let modern = match kw {
        "contimeout" => "connect",
        "clitimeout" => "client",
        _ => "server",
    };
    let Some(v) = args.first() else {
        d.push(
            Diagnostic::alert(span, format!("'{kw}' expects a time"))
                .with_hint(format!("write 'timeout {modern} 5s'")),
        );
        return;
    };
    match parse_time(v, TimeUnit::Millis) {
        Ok(t) => {
            let slot = match modern {
                "connect" => &mut p.timeouts.connect,
                "client" => &mut p.timeouts.client,
                _ => &mut p.timeouts.server,
            };
            *slot = Some(t);
            d.push(
                Diagnostic::warning(
                    span,
                    format!("'{kw}' is not supported anymore since HAProxy 2.1; read as 'timeout {modern} {v}'"),
                )
                .with_hint(format!("write 'timeout {modern} {v}'")),
            );
        }
        Err(e) => d.push(Diagnostic::alert(span, format!("'{kw}': {e}"))),
    }
}

/// A removed keyword whose old meaning is carried by a modern one, e.g. bare `redispatch`.
pub(crate) fn renamed(kw: &str, modern: &str, span: &Span, d: &mut Diagnostics) {
    d.push(
        Diagnostic::warning(
            span,
            format!("'{kw}' is not supported anymore by HAProxy; read as '{modern}'"),
        )
        .with_hint(format!("write '{modern}'")),
    );
}

/// Legacy rule lines handed to the rule parser, which gives their 1.x meaning and the warning.
pub(crate) const RULE_KEYWORDS: &[&str] = &[
    "block",
    "redirect",
    "reqadd",
    "reqallow",
    "reqdel",
    "reqdeny",
    "reqiallow",
    "reqidel",
    "reqideny",
    "reqipass",
    "reqirep",
    "reqisetbe",
    "reqitarpit",
    "reqpass",
    "reqrep",
    "reqsetbe",
    "reqtarpit",
    "rspadd",
    "rspdel",
    "rspdeny",
    "rspidel",
    "rspideny",
    "rspirep",
    "rsprep",
];

pub(crate) fn rule(kw: &str, args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    match crate::rules::parse_legacy(kw, args, span) {
        Ok((rule, diag)) => {
            d.push(diag);
            if kw.starts_with("rsp") {
                p.http_response.push(rule);
            } else {
                p.http_request.push(rule);
            }
        }
        Err(e) => d.push(e),
    }
}

/// `mode health` (removed in HAProxy 2.4): read as `mode tcp` whose connections
/// get 1.x's fixed answer; the warning names the modern form.
pub(crate) fn mode_health(span: &Span) -> Diagnostic {
    Diagnostic::warning(
        span,
        "'mode health' is not supported anymore since HAProxy 2.4; Fulcrum still answers every connection 'OK' (or 'HTTP/1.0 200 OK' with 'option httpchk') and closes it, unlogged",
    )
    .with_hint("write 'mode http' with 'monitor-uri /health' (or 'http-request return status 200 if { path /health }')")
}

/// `monitor-net NET` (removed in HAProxy 2.4): still answered and not logged.
pub(crate) fn monitor_net(args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    let Some(net) = args.first() else {
        d.push(Diagnostic::alert(
            span,
            "'monitor-net' expects a network, e.g. '192.0.2.0/24'",
        ));
        return;
    };
    match crate::model::addr::IpNet::parse(net) {
        Ok(n) => {
            p.monitor_net.push(n);
            d.push(
                Diagnostic::warning(span, "'monitor-net' is not supported anymore since HAProxy 2.4; Fulcrum still answers and does not log these clients")
                    .with_hint(format!("write 'http-request return status 200 if {{ src {net} }}', with 'http-request set-log-level silent' for the same clients")),
            );
        }
        Err(e) => d.push(Diagnostic::alert(span, format!("'monitor-net': {e}"))),
    }
}

/// `appsession` when the persistence parser does not take it: keep it visible.
pub(crate) fn appsession(span: &Span, d: &mut Diagnostics) {
    d.push(
        Diagnostic::warning(span, "'appsession' is not supported anymore since HAProxy 1.6")
            .with_hint("use 'stick-table type string len 32 size 100k expire 15m' with 'stick on req.cookie(NAME)' and 'stick store-response res.cook(NAME)'"),
    );
}
