//! HAProxy's keyword matrix (configuration.txt §4.1): which proxy keywords each section
//! kind accepts, and the diagnostics HAProxy gives when one is misplaced.

use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::model::{Proxy, ProxyKind};

pub(crate) const D: u8 = 1;
pub(crate) const F: u8 = 2;
pub(crate) const B: u8 = 4;
const ALL: u8 = D | F | B;

/// Proxy-section keywords (first word) and where they apply.
pub(crate) const PROXY_KEYWORDS: &[(&str, u8)] = &[
    ("acl", F | B),
    ("appsession", B),
    ("backlog", D | F),
    ("balance", D | B),
    ("bind", F),
    ("bind-process", ALL),
    ("block", F | B),
    ("capture", F),
    ("clitcpka-cnt", D | F),
    ("clitcpka-idle", D | F),
    ("clitcpka-intvl", D | F),
    ("clitimeout", D | F),
    ("compression", ALL),
    ("contimeout", D | B),
    ("cookie", D | B),
    ("declare", F | B),
    ("default-server", D | B),
    ("default_backend", D | F),
    ("description", F | B),
    ("disabled", ALL),
    ("dispatch", B),
    ("dynamic-cookie-key", D | B),
    ("email-alert", ALL),
    ("enabled", ALL),
    ("errorfile", ALL),
    ("errorfiles", ALL),
    ("errorloc", ALL),
    ("errorloc302", ALL),
    ("errorloc303", ALL),
    ("error-log-format", D | F),
    ("external-check", D | B),
    ("filter", F | B),
    ("force-persist", F | B),
    ("fullconn", D | B),
    ("grace", ALL),
    ("hash-balance-factor", D | B),
    ("hash-type", D | B),
    ("http-after-response", ALL),
    ("http-check", D | B),
    ("http-error", ALL),
    ("http-request", ALL),
    ("http-response", ALL),
    ("http-reuse", D | B),
    ("http-send-name-header", D | B),
    ("id", F | B),
    ("ignore-persist", F | B),
    ("load-server-state-from-file", D | B),
    ("log", ALL),
    ("log-format", D | F),
    ("log-format-sd", D | F),
    ("log-tag", ALL),
    ("max-keep-alive-queue", D | B),
    ("max-session-srv-conns", D | F),
    ("maxconn", D | F),
    ("mode", ALL),
    ("monitor", F),
    ("monitor-net", D | F),
    ("monitor-uri", D | F),
    ("no", ALL),
    ("option", ALL),
    ("persist", D | B),
    ("rate-limit", D | F),
    ("redirect", F | B),
    ("redisp", D | B),
    ("redispatch", D | B),
    ("reqadd", F | B),
    ("reqallow", F | B),
    ("reqdel", F | B),
    ("reqdeny", F | B),
    ("reqiallow", F | B),
    ("reqidel", F | B),
    ("reqideny", F | B),
    ("reqipass", F | B),
    ("reqirep", F | B),
    ("reqisetbe", F | B),
    ("reqitarpit", F | B),
    ("reqpass", F | B),
    ("reqrep", F | B),
    ("reqsetbe", F | B),
    ("reqtarpit", F | B),
    ("retries", D | B),
    ("retry-on", D | B),
    ("rspadd", F | B),
    ("rspdel", F | B),
    ("rspdeny", F | B),
    ("rspidel", F | B),
    ("rspideny", F | B),
    ("rspirep", F | B),
    ("rsprep", F | B),
    ("server", B),
    ("server-state-file-name", D | B),
    ("server-template", B),
    ("source", D | B),
    ("srvtcpka-cnt", D | B),
    ("srvtcpka-idle", D | B),
    ("srvtcpka-intvl", D | B),
    ("srvtimeout", D | B),
    ("stats", ALL),
    ("stick", B),
    ("stick-table", F | B),
    ("tcp-check", D | B),
    ("tcp-request", ALL),
    ("tcp-response", D | B),
    ("timeout", ALL),
    ("transparent", D | B),
    ("unique-id-format", D | F),
    ("unique-id-header", D | F),
    ("use-fcgi-app", B),
    ("use-server", B),
    ("use_backend", F),
];

/// `option` names and where they apply.
pub(crate) const OPTIONS: &[(&str, u8)] = &[
    ("abortonclose", D | B),
    ("accept-invalid-http-request", D | F),
    ("accept-invalid-http-response", D | B),
    ("allbackups", D | B),
    ("checkcache", D | B),
    ("clitcpka", D | F),
    ("contstats", D | F),
    ("disable-h2-upgrade", D | F),
    ("dontlog-normal", D | F),
    ("dontlognull", D | F),
    ("external-check", D | B),
    ("forceclose", ALL),
    ("forwardfor", ALL),
    ("h1-case-adjust-bogus-client", D | F),
    ("h1-case-adjust-bogus-server", D | B),
    ("http-buffer-request", ALL),
    ("http-drop-request-trailers", ALL),
    ("http-drop-response-trailers", ALL),
    ("http-ignore-probes", D | F),
    ("http-keep-alive", ALL),
    ("http-no-delay", ALL),
    ("http-pretend-keepalive", D | B),
    ("http-restrict-req-hdr-names", ALL),
    ("http-server-close", ALL),
    ("http-tunnel", ALL),
    ("http-use-htx", ALL),
    ("http-use-proxy-header", D | F),
    ("http_proxy", ALL),
    ("httpchk", D | B),
    ("httpclose", ALL),
    ("httplog", D | F),
    ("httpslog", D | F),
    ("idle-close-on-response", D | F),
    ("independant-streams", ALL),
    ("independent-streams", ALL),
    ("ldap-check", D | B),
    ("log-health-checks", D | B),
    ("log-separate-errors", D | F),
    ("logasap", D | F),
    ("mysql-check", D | B),
    ("nolinger", ALL),
    ("originalto", ALL),
    ("persist", D | B),
    ("pgsql-check", D | B),
    ("prefer-last-server", D | B),
    ("redis-check", D | B),
    ("redispatch", D | B),
    ("smtpchk", D | B),
    ("socket-stats", D | F),
    ("splice-auto", ALL),
    ("splice-request", ALL),
    ("splice-response", ALL),
    ("spop-check", D | B),
    ("srvtcpka", D | B),
    ("ssl-hello-chk", D | B),
    ("tcp-check", D | B),
    ("tcp-smart-accept", D | F),
    ("tcp-smart-connect", D | B),
    ("tcpka", ALL),
    ("tcplog", D | F),
    ("transparent", D | B),
];

/// `timeout` names and where they apply.
pub(crate) const TIMEOUTS: &[(&str, u8)] = &[
    ("check", D | B),
    ("client", D | F),
    ("client-fin", D | F),
    ("connect", D | B),
    ("http-keep-alive", ALL),
    ("http-request", ALL),
    ("queue", D | B),
    ("server", D | B),
    ("server-fin", D | B),
    ("tarpit", ALL),
    ("tunnel", D | B),
];

pub(crate) fn lookup(table: &[(&str, u8)], name: &str) -> Option<u8> {
    table.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

pub(crate) fn names(table: &'static [(&'static str, u8)]) -> impl Iterator<Item = &'static str> {
    table.iter().map(|(n, _)| *n)
}

/// Whether `what` (e.g. `'balance'` or `'option httplog'`) applies to `p`; pushes
/// HAProxy's diagnostic when not: an alert in `defaults`, a warning (ignored) elsewhere.
pub(crate) fn allowed(what: &str, caps: u8, p: &Proxy, span: &Span, d: &mut Diagnostics) -> bool {
    let fe_ok = caps & F != 0;
    let be_ok = caps & B != 0;
    match p.kind {
        ProxyKind::Defaults if caps & D == 0 => {
            d.push(
                Diagnostic::alert(span, format!("{what} not allowed in 'defaults' section"))
                    .with_hint(format!("move it to the {} that needs it", where_to(caps))),
            );
            false
        }
        ProxyKind::Frontend if !fe_ok => {
            d.push(
                Diagnostic::warning(
                    span,
                    format!(
                        "{what} ignored because frontend '{}' has no backend capability",
                        p.name
                    ),
                )
                .with_hint("move it to the backend the frontend uses"),
            );
            false
        }
        ProxyKind::Backend if !be_ok => {
            d.push(
                Diagnostic::warning(
                    span,
                    format!(
                        "{what} ignored because backend '{}' has no frontend capability",
                        p.name
                    ),
                )
                .with_hint("move it to the frontend that uses this backend"),
            );
            false
        }
        _ => true,
    }
}

fn where_to(caps: u8) -> &'static str {
    match (caps & F != 0, caps & B != 0) {
        (true, false) => "frontend or listen section",
        (false, true) => "backend or listen section",
        _ => "frontend, backend or listen section",
    }
}
