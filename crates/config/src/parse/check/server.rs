//! Check options of `server` / `default-server` lines (`check`, `inter`, `rise`,
//! `fall`, `observe`, `on-error`, `agent-*`, …).

use super::*;

/// One option of a `server` / `default-server` line starting at `words[0]`
/// (e.g. `["inter", "3s", …]`). Returns how many words it consumed (0 = not a check option).
pub fn server_option(
    words: &[String],
    span: &Span,
    s: &mut ServerCheck,
    d: &mut Diagnostics,
) -> usize {
    let Some(kw) = words.first().map(String::as_str) else {
        return 0;
    };
    let flag = |v: &mut Option<bool>, on: bool| {
        *v = Some(on);
        1
    };
    match kw {
        "check" => return flag(&mut s.enabled, true),
        "no-check" => return flag(&mut s.enabled, false),
        "check-send-proxy" => return flag(&mut s.send_proxy, true),
        "no-check-send-proxy" => return flag(&mut s.send_proxy, false),
        "agent-check" => return flag(&mut s.agent.enabled, true),
        "no-agent-check" => return flag(&mut s.agent.enabled, false),
        "check-ssl" | "no-check-ssl" => {
            if kw == "check-ssl" {
                d.push(Diagnostic::notice(
                    span,
                    "'check-ssl' is accepted but Fulcrum runs health checks without TLS for now",
                ));
            }
            return flag(&mut s.ssl, kw == "check-ssl");
        }
        _ => {}
    }
    const WITH_VALUE: [&str; 20] = [
        "inter",
        "fastinter",
        "downinter",
        "rise",
        "fall",
        "port",
        "addr",
        "init-state",
        "slowstart",
        "track",
        "on-marked-down",
        "on-marked-up",
        "agent-port",
        "agent-inter",
        "agent-send",
        "agent-addr",
        "observe",
        "error-limit",
        "on-error",
        "check-sni",
    ];
    if !WITH_VALUE.contains(&kw) {
        return 0;
    }
    let Some(v) = words.get(1).map(String::as_str) else {
        d.push(Diagnostic::alert(
            span,
            format!("server option '{kw}' expects a value"),
        ));
        return 1;
    };
    if let Err(msg) = server_value(kw, v, s) {
        let mut diag = Diagnostic::alert(span, msg);
        if let Some(h) = server_hint(kw) {
            diag = diag.with_hint(h);
        }
        d.push(diag);
    }
    if kw == "check-sni" {
        d.push(Diagnostic::notice(
            span,
            "'check-sni' is accepted but Fulcrum runs health checks without TLS for now",
        ));
    }
    2
}

fn server_value(kw: &str, v: &str, s: &mut ServerCheck) -> Result<(), String> {
    let time = |v: &str| parse_time(v).map_err(|e| format!("'{kw}': {e}"));
    let positive_time = |v: &str| match time(v)? {
        t if t.is_zero() => Err(format!("'{kw}' must be greater than zero")),
        t => Ok(t),
    };
    match kw {
        "inter" => s.inter = Some(positive_time(v)?),
        "fastinter" => s.fastinter = Some(positive_time(v)?),
        "downinter" => s.downinter = Some(positive_time(v)?),
        "agent-inter" => s.agent.inter = Some(positive_time(v)?),
        "slowstart" => s.slowstart = Some(time(v)?),
        "rise" => s.rise = Some(parse_count(v, kw)?),
        "fall" => s.fall = Some(parse_count(v, kw)?),
        "error-limit" => s.error_limit = Some(parse_count(v, kw)?),
        "port" => s.port = Some(parse_port(v, kw)?),
        "agent-port" => s.agent.port = Some(parse_port(v, kw)?),
        "addr" => s.addr = Some(v.to_string()),
        "agent-addr" => s.agent.addr = Some(v.to_string()),
        "agent-send" => s.agent.send = Some(v.to_string()),
        "check-sni" => s.sni = Some(v.to_string()),
        "init-state" => {
            s.init_state = Some(keyword(
                kw,
                v,
                InitState::from_keyword,
                InitState::KEYWORDS,
            )?)
        }
        "track" => {
            let (backend, server) = match v.split_once('/') {
                Some((b, srv)) => (Some(b.to_string()), srv),
                None => (None, v),
            };
            if server.is_empty() || backend.as_deref() == Some("") {
                return Err(format!("'track' expects [BACKEND/]SERVER, not '{v}'"));
            }
            s.track = Some(TrackTarget {
                backend,
                server: server.to_string(),
            });
        }
        "on-marked-down" if v == "shutdown-sessions" => s.shutdown_sessions_on_down = Some(true),
        "on-marked-up" if v == "shutdown-backup-sessions" => {
            s.shutdown_backup_sessions_on_up = Some(true)
        }
        "on-marked-down" | "on-marked-up" => return Err(format!("'{kw}' does not accept '{v}'")),
        "observe" => s.observe = Some(keyword(kw, v, Observe::from_keyword, Observe::KEYWORDS)?),
        "on-error" => s.on_error = Some(keyword(kw, v, OnError::from_keyword, OnError::KEYWORDS)?),
        _ => return Err(format!("unknown server option '{kw}'")),
    }
    Ok(())
}

/// A value that must be one of an enum's keywords.
fn keyword<T>(kw: &str, v: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<T, String> {
    parse(v).ok_or_else(|| {
        format!(
            "'{kw}' does not accept '{v}' (write one of: {})",
            all.join(", ")
        )
    })
}

fn server_hint(kw: &str) -> Option<&'static str> {
    Some(match kw {
        "inter" | "fastinter" | "downinter" | "agent-inter" | "slowstart" => {
            "write a time such as '2s' or '500ms'"
        }
        "on-marked-down" => "write 'on-marked-down shutdown-sessions'",
        "on-marked-up" => "write 'on-marked-up shutdown-backup-sessions'",
        "track" => "write 'track SERVER' or 'track BACKEND/SERVER'",
        _ => return None,
    })
}
