//! Parsing of the non-proxy sections. OWNER: config-sections helper.
//!
//! Contract with the section dispatcher: a line whose first word is one of
//! [`SECTION_KEYWORDS`] opens a section with [`begin_section`]; every following line
//! until the next section keyword goes to [`section_keyword`]; [`end_section`] runs
//! the checks that need the whole section.

use std::path::Path;

use crate::diag::{closest, Diagnostic, Diagnostics, Span};
use crate::model::sections::*;
use crate::parse::check::{arg, parse_time};

/// The keywords that open an extra section.
pub const SECTION_KEYWORDS: [&str; 7] = [
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "http-errors",
    "ring",
    "program",
];

/// HTTP statuses an `errorfile` may replace (HAProxy's list).
pub const ERRORFILE_CODES: [u16; 17] = [
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

/// A section header line (`words[0]` is the keyword). `None` when the keyword is not an
/// extra section's. A missing name is reported and the section still opens, so that its
/// lines are not reported as unknown one by one.
pub fn begin_section(words: &[String], span: &Span, d: &mut Diagnostics) -> Option<ExtraSection> {
    let kw = words.first()?.as_str();
    if !SECTION_KEYWORDS.contains(&kw) {
        return None;
    }
    let name = match words.get(1) {
        Some(n) => n.clone(),
        None => {
            d.push(
                Diagnostic::alert(span, format!("'{kw}' section needs a name"))
                    .with_hint(format!("write '{kw} NAME'")),
            );
            String::new()
        }
    };
    if let Some(extra) = words.get(2) {
        d.push(Diagnostic::alert(
            span,
            format!("'{kw} {name}': unexpected word '{extra}' after the name"),
        ));
    }
    let header = (name, span.clone());
    Some(match kw {
        "userlist" => ExtraSection::Userlist(Userlist {
            header,
            groups: vec![],
            users: vec![],
        }),
        "peers" => ExtraSection::Peers(Peers {
            header,
            peers: vec![],
            bind: None,
            default_server: vec![],
            default_bind: vec![],
            disabled: false,
            tables: vec![],
        }),
        "resolvers" => ExtraSection::Resolvers(Resolvers {
            header,
            nameservers: vec![],
            parse_resolv_conf: false,
            resolve_retries: None,
            timeout_resolve: None,
            timeout_retry: None,
            hold: vec![],
            accepted_payload_size: None,
        }),
        "mailers" => ExtraSection::Mailers(Mailers {
            header,
            mailers: vec![],
            timeout_mail: None,
        }),
        "http-errors" => ExtraSection::HttpErrors(HttpErrors {
            header,
            files: vec![],
        }),
        "ring" => ExtraSection::Ring(Ring {
            header,
            description: None,
            format: None,
            maxlen: None,
            size: None,
            timeout_connect: None,
            timeout_server: None,
            servers: vec![],
        }),
        _ => {
            d.push(
                Diagnostic::notice(
                    span,
                    "'program' sections are accepted but Fulcrum does not run programs yet",
                )
                .with_hint("start the program with your service manager"),
            );
            ExtraSection::Program(Program {
                header,
                command: vec![],
                user: None,
                group: None,
                start_on_reload: None,
            })
        }
    })
}

/// A whole section at once: the header line's words, then its body lines
/// ([`begin_section`], [`section_keyword`] for each line, [`end_section`]).
pub fn parse_section(
    header: &[String],
    span: &Span,
    body: &[crate::reader::SourceLine],
    d: &mut Diagnostics,
) -> Option<ExtraSection> {
    let mut s = begin_section(header, span, d)?;
    for line in body {
        section_keyword(&mut s, &line.words, &line.span, d);
    }
    end_section(&s, d);
    Some(s)
}

/// One line inside an extra section (`words[0]` is the keyword).
pub fn section_keyword(
    section: &mut ExtraSection,
    words: &[String],
    span: &Span,
    d: &mut Diagnostics,
) {
    let Some(kw) = words.first().map(String::as_str) else {
        return;
    };
    let args = &words[1..];
    let res = match section {
        ExtraSection::Userlist(u) => userlist(u, kw, args, span),
        ExtraSection::Peers(p) => peers(p, kw, args, span),
        ExtraSection::Resolvers(r) => resolvers(r, kw, args, span),
        ExtraSection::Mailers(m) => mailers(m, kw, args, span),
        ExtraSection::HttpErrors(h) => match kw {
            "errorfile" => read_errorfile(args, span)
                .map(|f| h.files.push(f))
                .map_err(LineError::Diag),
            _ => Err(Unknown(&["errorfile"])),
        },
        ExtraSection::Ring(r) => ring(r, kw, args, span),
        ExtraSection::Program(p) => program(p, kw, args, span),
    };
    match res {
        Ok(()) => {}
        Err(LineError::Diag(e)) => d.push(e),
        Err(LineError::Unknown(known)) => {
            let mut e = Diagnostic::alert(
                span,
                format!("unknown keyword '{kw}' in '{}' section", section.keyword()),
            );
            e = match closest(kw, known.iter().copied()) {
                Some(c) => e.with_hint(format!("did you mean '{c}'?")),
                None => e.with_hint(format!("keywords are {}", known.join(", "))),
            };
            d.push(e);
        }
    }
}

/// Checks that need the whole section (duplicates, required lines).
pub fn end_section(section: &ExtraSection, d: &mut Diagnostics) {
    let (kw, name, span) = (section.keyword(), section.name(), section.span());
    let mut dup = |what: &str, names: Vec<(&str, &Span)>| {
        for (i, (n, sp)) in names.iter().enumerate() {
            if let Some((_, first)) = names[..i].iter().find(|(m, _)| m == n) {
                d.push(
                    Diagnostic::alert(
                        sp,
                        format!("{what} '{n}' already declared in {kw} '{name}' at {first}"),
                    )
                    .with_hint("give each one a distinct name"),
                );
            }
        }
    };
    match section {
        ExtraSection::Userlist(u) => {
            for g in &u.groups {
                for usr in g
                    .users
                    .iter()
                    .filter(|x| !u.users.iter().any(|y| &y.name == *x))
                {
                    d.push(
                        Diagnostic::alert(
                            &g.span,
                            format!("group '{}' lists unknown user '{usr}'", g.name),
                        )
                        .with_hint(format!("declare 'user {usr}' in userlist '{name}'")),
                    );
                }
            }
            for usr in &u.users {
                for g in usr
                    .groups
                    .iter()
                    .filter(|g| !u.groups.iter().any(|x| &x.name == *g))
                {
                    d.push(
                        Diagnostic::alert(
                            &usr.span,
                            format!("user '{}' is in unknown group '{g}'", usr.name),
                        )
                        .with_hint(format!("declare 'group {g}' in userlist '{name}'")),
                    );
                }
            }
        }
        ExtraSection::Peers(p) => dup(
            "peer",
            p.peers.iter().map(|x| (x.name.as_str(), &x.span)).collect(),
        ),
        ExtraSection::Resolvers(r) => {
            dup(
                "nameserver",
                r.nameservers
                    .iter()
                    .map(|x| (x.name.as_str(), &x.span))
                    .collect(),
            );
            if r.nameservers.is_empty() && !r.parse_resolv_conf {
                d.push(
                    Diagnostic::alert(span, format!("resolvers '{name}' has no nameserver"))
                        .with_hint("add 'nameserver NAME IP:53' or 'parse-resolv-conf'"),
                );
            }
        }
        ExtraSection::Mailers(m) => dup(
            "mailer",
            m.mailers
                .iter()
                .map(|x| (x.name.as_str(), &x.span))
                .collect(),
        ),
        ExtraSection::HttpErrors(h) => {
            let codes: Vec<(String, &Span)> = h
                .files
                .iter()
                .map(|f| (f.code.to_string(), &f.span))
                .collect();
            dup(
                "errorfile",
                codes.iter().map(|(c, s)| (c.as_str(), *s)).collect(),
            );
        }
        ExtraSection::Ring(_) => {}
        ExtraSection::Program(p) => {
            if p.command.is_empty() {
                d.push(
                    Diagnostic::alert(span, format!("program '{name}' has no 'command'"))
                        .with_hint("add 'command /path/to/program [args]'"),
                );
            }
        }
    }
}

/// `errorfile CODE FILE` (words after `errorfile`): the file must be readable now.
pub fn read_errorfile(args: &[String], span: &Span) -> Result<ErrorFile, Diagnostic> {
    let code_word = arg(args, 0, "errorfile", "a status code and a file", span)?;
    let path = arg(args, 1, "errorfile", "a status code and a file", span)?;
    let code = code_word
        .parse::<u16>()
        .ok()
        .filter(|c| ERRORFILE_CODES.contains(c))
        .ok_or_else(|| {
            let list: Vec<String> = ERRORFILE_CODES.iter().map(u16::to_string).collect();
            Diagnostic::alert(
                span,
                format!("'errorfile': status '{code_word}' cannot be replaced"),
            )
            .with_hint(format!("supported statuses are {}", list.join(", ")))
        })?;
    let content = std::fs::read(path).map_err(|e| {
        Diagnostic::alert(
            span,
            format!("'errorfile {code}': cannot read '{path}': {e}"),
        )
        .with_hint("create the file (a complete HTTP response) or fix the path")
    })?;
    if !content.starts_with(b"HTTP/") {
        return Err(Diagnostic::alert(span, format!("'errorfile {code}': '{path}' is not an HTTP response"))
            .with_hint(format!("start the file with a status line such as 'HTTP/1.0 {code} …', then headers and an empty line")));
    }
    Ok(ErrorFile {
        code,
        path: Path::new(path).to_path_buf(),
        content,
        span: span.clone(),
    })
}

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

fn userlist(u: &mut Userlist, kw: &str, args: &[String], span: &Span) -> LineResult {
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

fn peers(p: &mut Peers, kw: &str, args: &[String], span: &Span) -> LineResult {
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

fn resolvers(r: &mut Resolvers, kw: &str, args: &[String], span: &Span) -> LineResult {
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

fn mailers(m: &mut Mailers, kw: &str, args: &[String], span: &Span) -> LineResult {
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

fn ring(r: &mut Ring, kw: &str, args: &[String], span: &Span) -> LineResult {
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

fn program(p: &mut Program, kw: &str, args: &[String], span: &Span) -> LineResult {
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
