//! One keyword line of each extra section: `userlist`, `peers`, `resolvers`,
//! `mailers`, `ring`, `program` (`http-errors` stays with `errorfile` in the parent).

use super::*;

/// Why a section line was rejected.
#[derive(Debug)]
pub enum LineError {
    Diag(Diagnostic),
    /// Unknown keyword; the section's keywords for the "did you mean" hint.
    Unknown(&'static [&'static str]),
}
use LineError::Unknown;

impl From<Diagnostic> for LineError {
    fn from(d: Diagnostic) -> Self {
        LineError::Diag(d)
    }
}

type LineResult = Result<(), LineError>;

fn alert(span: &Span, msg: String) -> LineError {
    LineError::Diag(Diagnostic::alert(span, msg))
}

fn list(word: &str) -> Vec<String> {
    word.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// HAProxy keeps the first of two users (or groups) with one name, with a warning.
fn duplicate(what: &str, name: &str, first: &Span, span: &Span) -> LineError {
    LineError::Diag(
        Diagnostic::warning(
            span,
            format!("ignoring duplicated {what} '{name}' (first declared at {first})"),
        )
        .with_hint(format!("remove this line or rename the {what}")),
    )
}

pub(super) fn userlist(u: &mut Userlist, kw: &str, args: &[String], span: &Span) -> LineResult {
    match kw {
        "group" => {
            let name = arg(args, 0, "group", "a name", span)?.to_string();
            let users = match args.get(1..) {
                Some([k, v]) if k == "users" => list(v),
                Some([]) => vec![],
                _ => return Err(alert(span, "'group' expects 'NAME [users a,b,…]'".into())),
            };
            if let Some(first) = u.groups.iter().find(|g| g.name == name) {
                return Err(duplicate("group", &name, &first.span, span));
            }
            u.groups.push(Group {
                name,
                users,
                span: span.clone(),
            });
        }
        "user" => {
            let name = arg(args, 0, "user", "a name", span)?.to_string();
            let mut user = User {
                name,
                password: Password::None,
                groups: vec![],
                span: span.clone(),
            };
            let mut i = 1;
            while i < args.len() {
                let v =
                    arg(args, i + 1, &format!("user … {}", args[i]), "a value", span)?.to_string();
                match args[i].as_str() {
                    "password" => user.password = Password::Hashed(v),
                    "insecure-password" => user.password = Password::Insecure(v),
                    "groups" => user.groups = list(&v),
                    other => return Err(LineError::Diag(
                        Diagnostic::alert(span, format!("'user': unknown option '{other}'"))
                            .with_hint(
                            "write 'user NAME [password HASH | insecure-password PW] [groups a,b]'",
                        ),
                    )),
                }
                i += 2;
            }
            if let Some(first) = u.users.iter().find(|x| x.name == user.name) {
                return Err(duplicate("user", &user.name, &first.span, span));
            }
            u.users.push(user);
        }
        _ => return Err(Unknown(&["group", "user"])),
    }
    Ok(())
}

/// `IP:PORT` (or `host:port`, `ipv6:port`, with an optional `proto@` prefix): the port must be there.
fn addr_with_port(word: &str, kw: &str, span: &Span) -> Result<String, LineError> {
    let bare = word.split_once('@').map_or(word, |(_, a)| a);
    let ok = bare
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if ok {
        Ok(word.to_string())
    } else {
        Err(LineError::Diag(
            Diagnostic::alert(
                span,
                format!("'{kw}': '{word}' is not an address with a port"),
            )
            .with_hint("write e.g. '10.0.0.1:1024'"),
        ))
    }
}

pub(super) fn peers(p: &mut Peers, kw: &str, args: &[String], span: &Span) -> LineResult {
    match kw {
        "peer" => {
            let name = arg(args, 0, "peer", "a name and an address", span)?.to_string();
            let addr = addr_with_port(
                arg(args, 1, "peer", "a name and an address", span)?,
                "peer",
                span,
            )?;
            p.peers.push(Peer {
                name,
                addr: Some(addr),
                options: args[2..].to_vec(),
                span: span.clone(),
            });
        }
        "server" => {
            let name = arg(args, 0, "server", "a name", span)?.to_string();
            let addr = match args.get(1) {
                Some(a) if a.contains(':') => Some(addr_with_port(a, "server", span)?),
                _ => None,
            };
            let skip = 1 + usize::from(addr.is_some());
            p.peers.push(Peer {
                name,
                addr,
                options: args[skip..].to_vec(),
                span: span.clone(),
            });
        }
        "bind" => {
            arg(args, 0, "bind", "an address", span)?;
            p.bind = Some(args.to_vec());
        }
        "default-server" => p.default_server = args.to_vec(),
        "default-bind" => p.default_bind = args.to_vec(),
        "disabled" => p.disabled = true,
        "enabled" | "enable" => p.disabled = false,
        "table" => {
            let name = arg(args, 0, "table", "a name and 'type … size …'", span)?.to_string();
            let t = crate::parse::persist::stick_table(&args[1..], span)?;
            p.tables.push((name, t));
        }
        _ => {
            return Err(Unknown(&[
                "peer",
                "server",
                "bind",
                "default-server",
                "default-bind",
                "disabled",
                "enabled",
                "table",
            ]))
        }
    }
    Ok(())
}

fn time_arg(
    args: &[String],
    i: usize,
    kw: &str,
    span: &Span,
) -> Result<std::time::Duration, LineError> {
    let w = arg(args, i, kw, "a time", span)?;
    parse_time(w).map_err(|e| alert(span, format!("'{kw}': {e}")))
}

pub(super) fn resolvers(r: &mut Resolvers, kw: &str, args: &[String], span: &Span) -> LineResult {
    match kw {
        "nameserver" => {
            let name = arg(args, 0, "nameserver", "a name and an address", span)?.to_string();
            let addr = addr_with_port(
                arg(args, 1, "nameserver", "a name and an address", span)?,
                "nameserver",
                span,
            )?;
            r.nameservers.push(Nameserver {
                name,
                addr,
                span: span.clone(),
            });
        }
        "parse-resolv-conf" => r.parse_resolv_conf = true,
        "resolve_retries" => {
            let v = arg(args, 0, kw, "a positive integer", span)?;
            r.resolve_retries =
                Some(crate::parse::check::parse_count(v, kw).map_err(|e| alert(span, e))?);
        }
        "timeout" => match args.first().map(String::as_str) {
            Some("resolve") => {
                r.timeout_resolve = Some(time_arg(args, 1, "timeout resolve", span)?)
            }
            Some("retry") => r.timeout_retry = Some(time_arg(args, 1, "timeout retry", span)?),
            other => {
                return Err(alert(
                    span,
                    format!(
                        "'timeout {}' is not a resolvers timeout (use 'resolve' or 'retry')",
                        other.unwrap_or("")
                    ),
                ))
            }
        },
        "hold" => {
            let st = args
                .first()
                .and_then(|w| HoldStatus::from_keyword(w))
                .ok_or_else(|| {
                    alert(
                        span,
                        format!(
                            "'hold' expects one of {}, then a time",
                            HoldStatus::KEYWORDS.join(", ")
                        ),
                    )
                })?;
            r.hold.push((st, time_arg(args, 1, "hold", span)?));
        }
        "accepted_payload_size" => {
            let v = arg(args, 0, kw, "a size", span)?;
            let n = v
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 65535)
                .ok_or_else(|| {
                    alert(
                        span,
                        format!("'accepted_payload_size' must be at most 65535, not '{v}'"),
                    )
                })?;
            r.accepted_payload_size = Some(n.max(512));
            if n < 512 {
                // HAProxy accepts it and uses the DNS minimum.
                return Err(LineError::Diag(Diagnostic::warning(
                    span,
                    format!("'accepted_payload_size {n}' is below the DNS minimum; 512 is used"),
                )));
            }
        }
        _ => {
            return Err(Unknown(&[
                "nameserver",
                "parse-resolv-conf",
                "resolve_retries",
                "timeout",
                "hold",
                "accepted_payload_size",
            ]))
        }
    }
    Ok(())
}

pub(super) fn mailers(m: &mut Mailers, kw: &str, args: &[String], span: &Span) -> LineResult {
    match kw {
        "mailer" => {
            let name = arg(args, 0, "mailer", "a name and an address", span)?.to_string();
            let addr = addr_with_port(
                arg(args, 1, "mailer", "a name and an address", span)?,
                "mailer",
                span,
            )?;
            m.mailers.push(Mailer {
                name,
                addr,
                span: span.clone(),
            });
        }
        "timeout" if args.first().map(String::as_str) == Some("mail") => {
            m.timeout_mail = Some(time_arg(args, 1, "timeout mail", span)?)
        }
        "timeout" => {
            return Err(alert(
                span,
                "the only 'mailers' timeout is 'timeout mail'".into(),
            ))
        }
        _ => return Err(Unknown(&["mailer", "timeout"])),
    }
    Ok(())
}

pub(super) fn ring(r: &mut Ring, kw: &str, args: &[String], span: &Span) -> LineResult {
    match kw {
        "description" => r.description = Some(args.join(" ")),
        "format" => {
            let f = arg(args, 0, kw, "a format", span)?;
            r.format = Some(RingFormat::from_keyword(f).ok_or_else(|| {
                LineError::Diag(
                    Diagnostic::alert(span, format!("'format': unknown ring format '{f}'"))
                        .with_hint(format!("formats are {}", RingFormat::KEYWORDS.join(", "))),
                )
            })?);
        }
        "maxlen" => {
            let v = arg(args, 0, kw, "a length", span)?;
            r.maxlen = Some(crate::parse::check::parse_count(v, kw).map_err(|e| alert(span, e))?);
        }
        "size" => {
            let v = arg(args, 0, kw, "a size", span)?;
            r.size = Some(
                crate::parse::persist::parse_size(v)
                    .map_err(|e| alert(span, format!("'size': {e}")))?,
            );
        }
        "timeout" => match args.first().map(String::as_str) {
            Some("connect") => {
                r.timeout_connect = Some(time_arg(args, 1, "timeout connect", span)?)
            }
            Some("server") => r.timeout_server = Some(time_arg(args, 1, "timeout server", span)?),
            _ => {
                return Err(alert(
                    span,
                    "a 'ring' timeout is 'timeout connect' or 'timeout server'".into(),
                ))
            }
        },
        "server" => {
            let name = arg(args, 0, "server", "a name and an address", span)?.to_string();
            let addr = addr_with_port(
                arg(args, 1, "server", "a name and an address", span)?,
                "server",
                span,
            )?;
            r.servers.push(Peer {
                name,
                addr: Some(addr),
                options: args[2..].to_vec(),
                span: span.clone(),
            });
        }
        _ => {
            return Err(Unknown(&[
                "description",
                "format",
                "maxlen",
                "size",
                "timeout",
                "server",
            ]))
        }
    }
    Ok(())
}

pub(super) fn program(p: &mut Program, kw: &str, args: &[String], span: &Span) -> LineResult {
    match kw {
        "command" => {
            arg(args, 0, "command", "a program path", span)?;
            p.command = args.to_vec();
        }
        "user" => p.user = Some(arg(args, 0, kw, "a user name", span)?.to_string()),
        "group" => p.group = Some(arg(args, 0, kw, "a group name", span)?.to_string()),
        "option" | "no" => {
            let negated = kw == "no";
            let rest = if negated {
                args.get(1..).unwrap_or_default()
            } else {
                args
            };
            if (negated && args.first().map(String::as_str) != Some("option"))
                || rest.first().map(String::as_str) != Some("start-on-reload")
            {
                return Err(alert(
                    span,
                    "the only 'program' option is 'option start-on-reload'".into(),
                ));
            }
            p.start_on_reload = Some(!negated);
        }
        _ => return Err(Unknown(&["command", "user", "group", "option"])),
    }
    Ok(())
}
