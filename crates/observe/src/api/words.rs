//! Word-level helpers of the command parser: line and word splitting, and
//! the argument shapes commands share (`backend/server`, weights, filters).

use super::command::{
    Command, HealthForce, OutFormat, RateLimitKind, ServerAdminState, TableFilter, WeightSpec,
};
use super::ApiError;
use crate::stats::StatFilter;

/// Splits a line on `;`, honouring `\;` and `\\`. Empty commands are dropped.
pub fn split_commands(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // Keep the escape for the word splitter.
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ';' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Splits a command into words on spaces and tabs; `\x` is a literal `x`.
pub fn split_words(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut has_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    has_word = true;
                }
            }
            ' ' | '\t' | '\r' | '\n' => {
                if has_word {
                    words.push(std::mem::take(&mut cur));
                    has_word = false;
                }
            }
            _ => {
                cur.push(c);
                has_word = true;
            }
        }
    }
    if has_word {
        words.push(cur);
    }
    words
}

pub(super) fn usage(msg: &str) -> ApiError {
    ApiError::Usage(msg.to_string())
}

/// `backend/server`.
pub(super) fn be_srv(word: Option<&str>) -> Result<(String, String), ApiError> {
    let w = word.ok_or_else(|| usage("Require 'backend/server'."))?;
    match w.split_once('/') {
        Some((b, s)) if !b.is_empty() && !s.is_empty() => Ok((b.to_string(), s.to_string())),
        _ => Err(usage("Require 'backend/server'.")),
    }
}

pub(super) fn int(word: Option<&str>) -> Result<u32, ApiError> {
    word.and_then(|w| w.parse().ok())
        .ok_or_else(|| usage("Require a valid integer value."))
}

/// `set maxconn server`'s value read as HAProxy's `strtol` does, with its
/// messages; a negative value removes the limit, as it does in HAProxy.
pub(super) fn server_maxconn(word: Option<&str>) -> Result<u32, String> {
    let w = word.unwrap_or("");
    if w.is_empty() {
        return Err("Require <maxconn>.\n".into());
    }
    let t = w.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return Err("maxconn string empty or preceded by garbage".into());
    }
    if end < digits.len() {
        return Err("Trailing garbage in maxconn string".into());
    }
    if neg {
        return Ok(0);
    }
    Ok(digits.parse().unwrap_or(u32::MAX))
}

pub(super) fn weight(word: Option<&str>) -> Result<WeightSpec, ApiError> {
    let bad = || usage("Require <weight> or <weight%>.");
    let w = word.ok_or_else(bad)?;
    match w.strip_suffix('%') {
        Some(p) => p.parse().map(WeightSpec::Percent).map_err(|_| bad()),
        None => {
            let v: u32 = w.parse().map_err(|_| bad())?;
            if v > 256 {
                return Err(usage(
                    "Absolute weight can only be between 0 and 256 inclusive.",
                ));
            }
            Ok(WeightSpec::Absolute(v))
        }
    }
}

pub(super) fn format_flags(words: &[&str]) -> OutFormat {
    if words.contains(&"json") {
        OutFormat::Json
    } else if words.contains(&"typed") {
        OutFormat::Typed
    } else {
        OutFormat::Text
    }
}

pub(super) fn table_filters(words: &[&str]) -> Result<Vec<TableFilter>, ApiError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "key" => {
                let k = words.get(i + 1).ok_or_else(|| usage("Missing key."))?;
                out.push(TableFilter::Key((*k).to_string()));
                i += 2;
            }
            w if w.starts_with("data.") => {
                let op = words.get(i + 1).copied().unwrap_or("");
                if !matches!(op, "eq" | "ne" | "le" | "ge" | "lt" | "gt") {
                    return Err(usage("Require an operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"."));
                }
                let value = words
                    .get(i + 2)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| usage("Require a valid integer value to compare against."))?;
                out.push(TableFilter::Data {
                    name: w["data.".len()..].to_string(),
                    op: op.to_string(),
                    value,
                });
                i += 3;
            }
            _ => return Err(usage("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>.")),
        }
    }
    Ok(out)
}

pub(super) fn show_stat(rest: &[&str]) -> Result<Command, ApiError> {
    let format = format_flags(rest);
    let positional: Vec<&str> = rest
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "typed" | "json" | "desc" | "up" | "no-maint"))
        .collect();
    let mut filter = StatFilter {
        up_only: rest.contains(&"up"),
        no_maint: rest.contains(&"no-maint"),
        ..StatFilter::default()
    };
    let positional = match positional.as_slice() {
        ["domain", "proxy", tail @ ..] => tail.to_vec(),
        ["domain", d, ..] => return Err(usage(&format!("Unknown domain '{d}'."))),
        other => other.to_vec(),
    };
    match positional.as_slice() {
        [] => {}
        [px, ty, sid] => {
            filter.proxy = Some((*px).to_string());
            filter.types = ty
                .parse()
                .map_err(|_| usage("Require a valid integer value."))?;
            filter.sid = Some(
                sid.parse()
                    .map_err(|_| usage("Require a valid integer value."))?,
            );
        }
        _ => return Err(usage("Require <iid|proxy> <type> <sid> or none.")),
    }
    Ok(Command::ShowStat { format, filter })
}

pub(super) fn force(word: Option<&str>, agent: bool) -> Result<HealthForce, ApiError> {
    match word {
        Some("up") => Ok(HealthForce::Up),
        Some("down") => Ok(HealthForce::Down),
        Some("stopping") if !agent => Ok(HealthForce::Stopping),
        _ if agent => Err(usage("'set server <srv> agent' expects 'up' or 'down'.")),
        _ => Err(usage(
            "'set server <srv> health' expects 'up', 'stopping', or 'down'.",
        )),
    }
}

pub(super) fn set_server(words: &[&str]) -> Result<Command, ApiError> {
    let (backend, server) = be_srv(words.first().copied())?;
    match (
        words.get(1).copied(),
        set_server_sub(words, &backend, &server),
    ) {
        (Some(sub @ ("state" | "weight" | "health" | "agent")), Err(ApiError::Usage(usage))) => {
            Ok(Command::SetServerBadArg {
                backend,
                server,
                sub: sub.to_string(),
                usage,
            })
        }
        (_, r) => r,
    }
}

fn set_server_sub(words: &[&str], backend: &str, server: &str) -> Result<Command, ApiError> {
    let (backend, server) = (backend.to_string(), server.to_string());
    let arg = words.get(2).copied();
    Ok(match words.get(1).copied() {
        Some("state") => {
            let state = match arg {
                Some("ready") => ServerAdminState::Ready,
                Some("drain") => ServerAdminState::Drain,
                Some("maint") => ServerAdminState::Maint,
                _ => {
                    return Err(usage(
                        "'set server <srv> state' expects 'ready', 'drain' and 'maint'.",
                    ))
                }
            };
            Command::SetServerState {
                backend,
                server,
                state,
            }
        }
        Some("weight") => Command::SetServerWeight {
            backend,
            server,
            weight: weight(arg)?,
        },
        Some("health") => Command::SetServerHealth {
            backend,
            server,
            force: force(arg, false)?,
        },
        Some("agent") => Command::SetServerAgent {
            backend,
            server,
            force: force(arg, true)?,
        },
        Some("addr") => {
            let addr = arg.and_then(|a| a.parse().ok()).ok_or_else(|| {
                usage("set server <b>/<s> addr requires an address and optionally a port.")
            })?;
            let port = match (words.get(3).copied(), words.get(4)) {
                (None, _) => None,
                (Some("port"), Some(p)) => Some(p.parse().map_err(|_| usage("Invalid port."))?),
                _ => {
                    return Err(usage(
                        "set server <b>/<s> addr requires an address and optionally a port.",
                    ))
                }
            };
            Command::SetServerAddr {
                backend,
                server,
                addr,
                port,
            }
        }
        _ => {
            return Err(usage(
                "'set server <srv>' only supports 'agent', 'health', 'state', 'weight', 'addr'.",
            ))
        }
    })
}

/// HAProxy 2.6's usage text for `set rate-limit`, as built without TLS.
const RATE_LIMIT_USAGE: &str = "'set rate-limit' only supports :
   - 'connections global' to set the per-process maximum connection rate
   - 'sessions global' to set the per-process maximum session rate
   - 'http-compression global' to set the per-process maximum compression speed in kB/s";

/// `set rate-limit connections|sessions|http-compression global VALUE`,
/// the value read as C's `atoi` reads it (HAProxy does: `5x` is 5, `x` is 0).
pub(super) fn rate_limit(words: &[&str]) -> Result<Command, ApiError> {
    let kind = match (words.first().copied(), words.get(1).copied()) {
        (Some("connections"), Some("global")) => RateLimitKind::Connections,
        (Some("sessions"), Some("global")) => RateLimitKind::Sessions,
        (Some("http-compression"), Some("global")) => RateLimitKind::HttpCompression,
        _ => return Err(usage(RATE_LIMIT_USAGE)),
    };
    let word = words
        .get(2)
        .ok_or_else(|| usage("Expects an integer value."))?;
    let value = u32::try_from(atoi(word)).map_err(|_| usage("Value out of range."))?;
    Ok(Command::SetRateLimit { kind, value })
}

/// C's `atoi` on glibc: leading blanks, a sign, digits up to the first
/// other character; the `long` result truncated to an `int`.
fn atoi(s: &str) -> i32 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |v, b| {
            v.saturating_mul(10).saturating_add(i64::from(b - b'0'))
        });
    let v = if neg { -v } else { v };
    // Truncation is the point: it is what the C cast does.
    v as i32
}

#[cfg(test)]
mod tests {
    use super::atoi;

    #[test]
    fn atoi_reads_as_c_does() {
        assert_eq!(atoi("5x"), 5);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi(" -3"), -3);
        assert_eq!(atoi("99999999999"), 1_215_752_191);
    }
}
