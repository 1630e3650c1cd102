//! Checks HAProxy makes once a proxy section is complete: settings that need
//! `mode http` are dropped with a warning in a TCP proxy, as HAProxy does.

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Balance, Mode, Proxy, ProxyKind};

pub(crate) fn finish(p: &mut Proxy, d: &mut Diagnostics) {
    if p.kind == ProxyKind::Defaults || p.mode == Mode::Http {
        return;
    }
    let Some(span) = p.span.clone() else { return };
    let (kind, name) = (p.kind.word(), p.name.clone());
    let mut out: Vec<Diagnostic> = Vec::new();
    let ignored = |what: &str, hint: &str| {
        Diagnostic::warning(
            &span,
            format!("{what} ignored for {kind} '{name}' as it requires HTTP mode"),
        )
        .with_hint(hint.to_string())
    };
    let http_hint = "add 'mode http' to this section, or remove the line";
    if p.kind.is_frontend() && p.options.httplog.is_some() {
        out.push(
            Diagnostic::warning(&span, format!("'option httplog' not usable with {kind} '{name}' (needs 'mode http'); falling back to 'option tcplog'"))
                .with_hint("write 'option tcplog' in this section, or 'mode http'"),
        );
        p.options.httplog = None;
        p.options.tcplog = true;
    }
    if p.stats.enable || p.stats.uri.is_some() || !p.stats.auth.is_empty() {
        out.push(ignored("'stats' statement", http_hint));
        p.stats = Default::default();
    }
    if !p.captures.is_empty() {
        out.push(ignored("'capture' statement", http_hint));
        p.captures.clear();
    }
    for (what, empty) in [
        ("'http-request' rules", p.http_request.is_empty()),
        ("'http-response' rules", p.http_response.is_empty()),
        (
            "'http-after-response' rules",
            p.http_after_response.is_empty(),
        ),
    ] {
        if !empty {
            out.push(ignored(what, http_hint));
        }
    }
    p.http_request.clear();
    p.http_response.clear();
    p.http_after_response.clear();
    let o = &mut p.options;
    let http_only: [(&str, &mut bool); 10] = [
        ("checkcache", &mut o.checkcache),
        ("http-buffer-request", &mut o.http_buffer_request),
        ("http-ignore-probes", &mut o.http_ignore_probes),
        ("idle-close-on-response", &mut o.idle_close_on_response),
        ("prefer-last-server", &mut o.prefer_last_server),
        (
            "accept-invalid-http-request",
            &mut o.accept_invalid_http_request,
        ),
        (
            "accept-invalid-http-response",
            &mut o.accept_invalid_http_response,
        ),
        ("http-use-proxy-header", &mut o.http_use_proxy_header),
        ("http-pretend-keepalive", &mut o.pretend_keepalive),
        ("http-no-delay", &mut o.http_no_delay),
    ];
    for (opt, on) in http_only {
        if *on {
            out.push(ignored(&format!("'option {opt}'"), http_hint));
            *on = false;
        }
    }
    if o.forwardfor.take().is_some() {
        out.push(ignored("'option forwardfor'", http_hint));
    }
    if o.originalto.take().is_some() {
        out.push(ignored("'option originalto'", http_hint));
    }
    if p.kind.is_backend() && p.balance.as_ref().is_some_and(Balance::needs_http) {
        out.push(
            Diagnostic::warning(&span, format!("layer 7 hash not possible for {kind} '{name}' (needs 'mode http'); falling back to round robin"))
                .with_hint("use 'balance source' or 'balance roundrobin' in TCP mode"),
        );
        p.balance = Some(Balance::RoundRobin);
    }
    d.extend(out);
}

#[cfg(test)]
mod tests {
    use crate::reader::ProcessEnv;

    #[test]
    fn http_settings_in_a_tcp_proxy_are_dropped_with_warnings() {
        let text = "defaults\nmode http\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n\
                    option forwardfor\nstats uri /s\n\
                    listen db\nmode tcp\nbind :3306\nbalance url_param x\ncapture request header Host len 5\n\
                    http-request deny\nserver s 127.0.0.1:3307\n\
                    listen web\nbind :80\nserver s 127.0.0.1:81\n";
        let l = crate::load_str("t.cfg", text, &ProcessEnv);
        let w: Vec<String> = l
            .diagnostics
            .warnings()
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(
            w,
            vec![
                "'stats' statement ignored for listen 'db' as it requires HTTP mode",
                "'capture' statement ignored for listen 'db' as it requires HTTP mode",
                "'http-request' rules ignored for listen 'db' as it requires HTTP mode",
                "'option forwardfor' ignored for listen 'db' as it requires HTTP mode",
                "layer 7 hash not possible for listen 'db' (needs 'mode http'); falling back to round robin",
            ]
        );
        let c = l.config.unwrap();
        let db = c.backend("db").unwrap();
        assert!(db.options.forwardfor.is_none() && db.http_request.is_empty() && !db.stats.enable);
        assert_eq!(db.balance, Some(crate::model::Balance::RoundRobin));
        assert!(c.backend("web").unwrap().options.forwardfor.is_some());
    }
}
