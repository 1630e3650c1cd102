//! Parsing of the non-proxy sections. OWNER: config-sections helper.
//!
//! Contract with the section dispatcher: a line whose first word is one of
//! [`SECTION_KEYWORDS`] opens a section with [`begin_section`]; every following line
//! until the next section keyword goes to [`section_keyword`]; [`end_section`] runs
//! the checks that need the whole section.

mod lines;

pub use lines::LineError;
use lines::{mailers, peers, program, resolvers, ring, userlist};
use LineError::Unknown;

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
        ExtraSection::Ring(r) => {
            // HAProxy's default size and maxlen are both its BUFSIZE.
            let size = r.size.unwrap_or(16384);
            if let Some(m) = r.maxlen.filter(|m| u64::from(*m) > size) {
                d.push(Diagnostic::warning(
                    span,
                    format!("ring '{name}' event max length '{m}' exceeds size, forced to size '{size}'"),
                ));
            }
        }
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
