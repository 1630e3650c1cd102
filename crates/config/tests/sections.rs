//! Extra sections: userlist, peers, resolvers, mailers, http-errors, ring, program.

use std::time::Duration;

use fulcrum_config::diag::{Diagnostics, Level, Span};
use fulcrum_config::model::persist::TableKeyType;
use fulcrum_config::model::sections::*;
use fulcrum_config::parse::sections::{begin_section, end_section, parse_section, section_keyword};
use fulcrum_config::reader::{read_str, MapEnv};

fn w(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// Parses a section given as lines; the header is line 1, the body lines 2, 3, ….
fn section(text: &[&str]) -> (ExtraSection, Diagnostics) {
    let mut d = Diagnostics::default();
    let mut s =
        begin_section(&w(text[0]), &Span::new("s.cfg", 1), &mut d).expect("section keyword");
    for (i, l) in text[1..].iter().enumerate() {
        section_keyword(&mut s, &w(l), &Span::new("s.cfg", i as u32 + 2), &mut d);
    }
    end_section(&s, &mut d);
    (s, d)
}

fn only_error(d: &Diagnostics, line: u32) -> String {
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 1, "{:?}", d.items);
    assert_eq!(
        errs[0].span.as_ref().map(|s| s.line),
        Some(line),
        "{}",
        errs[0]
    );
    errs[0].to_string()
}

#[test]
fn not_a_section_keyword() {
    let mut d = Diagnostics::default();
    assert!(begin_section(&w("backend b"), &Span::new("s.cfg", 1), &mut d).is_none());
    let (s, d) = section(&["userlist"]);
    assert!(only_error(&d, 1).contains("write 'userlist NAME'"));
    assert_eq!(s.keyword(), "userlist");
}

#[test]
fn userlist_users_and_groups() {
    let (s, d) = section(&[
        "userlist admins",
        "group ops users alice,bob",
        "group dev",
        "user alice password $6$salt$hash",
        "user bob insecure-password secret groups dev",
        "user carol",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let ExtraSection::Userlist(u) = &s else {
        panic!()
    };
    assert_eq!(s.name(), "admins");
    assert_eq!(u.users.len(), 3);
    assert_eq!(u.users[0].password, Password::Hashed("$6$salt$hash".into()));
    assert_eq!(u.users[1].password, Password::Insecure("secret".into()));
    assert_eq!(u.users[2].password, Password::None);
    assert_eq!(u.groups_of("bob"), vec!["dev", "ops"]);
    assert_eq!(u.groups_of("alice"), vec!["ops"]);
}

#[test]
fn userlist_errors() {
    let (_, d) = section(&["userlist l", "user a groups nope"]);
    assert!(only_error(&d, 2).contains("declare 'group nope'"));
    let (s, d) = section(&[
        "userlist l",
        "user a insecure-password one",
        "user a insecure-password two",
    ]);
    assert!(!d.has_errors());
    let w = d.warnings().next().expect("warning").to_string();
    assert!(
        w.contains("(s.cfg:3)")
            && w.contains("ignoring duplicated user 'a' (first declared at s.cfg:2)"),
        "{w}"
    );
    let ExtraSection::Userlist(u) = &s else {
        panic!()
    };
    assert_eq!(u.users.len(), 1);
    assert_eq!(
        u.users[0].password,
        Password::Insecure("one".into()),
        "the first one is kept, as HAProxy does"
    );
    let (_, d) = section(&["userlist l", "group g users x"]);
    assert!(only_error(&d, 2).contains("group 'g' lists unknown user 'x'"));
    let (_, d) = section(&["userlist l", "user a pasword x"]);
    assert!(only_error(&d, 2).contains("unknown option 'pasword'"));
    let (_, d) = section(&["userlist l", "usr a"]);
    let e = only_error(&d, 2);
    assert!(
        e.contains("unknown keyword 'usr' in 'userlist' section")
            && e.contains("did you mean 'user'?"),
        "{e}"
    );
}

#[test]
fn peers_section() {
    let (s, d) = section(&[
        "peers mypeers",
        "bind 127.0.0.1:10000 ssl",
        "peer lb1 10.0.0.1:1024",
        "server lb2 10.0.0.2:1024",
        "server local",
        "table sticky type string len 20 size 10k expire 5m",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let ExtraSection::Peers(p) = &s else { panic!() };
    assert_eq!(p.bind.as_deref(), Some(&w("127.0.0.1:10000 ssl")[..]));
    assert_eq!(p.peers.len(), 3);
    assert_eq!(p.peers[0].addr.as_deref(), Some("10.0.0.1:1024"));
    assert_eq!(p.peers[2].addr, None);
    assert_eq!(p.tables[0].0, "sticky");
    assert_eq!(p.tables[0].1.key, TableKeyType::String { len: 20 });

    let (_, d) = section(&["peers p", "peer lb1 10.0.0.1"]);
    assert!(only_error(&d, 2).contains("not an address with a port"));
    let (_, d) = section(&["peers p", "peer a 1.1.1.1:1", "peer a 1.1.1.2:1"]);
    assert!(only_error(&d, 3).contains("peer 'a' already declared"));
}

#[test]
fn resolvers_section_and_defaults() {
    let (s, d) = section(&[
        "resolvers dns",
        "nameserver ns1 10.0.0.53:53",
        "nameserver ns2 tcp@10.0.0.54:53",
        "resolve_retries 5",
        "timeout resolve 2s",
        "timeout retry 500ms",
        "hold valid 30s",
        "hold nx 5s",
        "accepted_payload_size 8192",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let ExtraSection::Resolvers(r) = &s else {
        panic!()
    };
    assert_eq!(r.nameservers.len(), 2);
    assert_eq!(r.resolve_retries(), 5);
    assert_eq!(r.timeout_resolve(), Duration::from_secs(2));
    assert_eq!(r.timeout_retry(), Duration::from_millis(500));
    assert_eq!(r.hold(HoldStatus::Valid), Duration::from_secs(30));
    assert_eq!(r.hold(HoldStatus::Nx), Duration::from_secs(5));
    assert_eq!(r.hold(HoldStatus::Refused), Duration::from_secs(30));
    assert_eq!(r.accepted_payload_size(), 8192);

    let (s, d) = section(&["resolvers sys", "parse-resolv-conf"]);
    assert!(d.items.is_empty());
    let ExtraSection::Resolvers(r) = &s else {
        panic!()
    };
    assert_eq!((r.resolve_retries(), r.accepted_payload_size()), (3, 512));
    assert_eq!(r.hold(HoldStatus::Valid), Duration::from_secs(10));

    let (_, d) = section(&["resolvers r"]);
    assert!(only_error(&d, 1).contains("has no nameserver"));
    let (_, d) = section(&[
        "resolvers r",
        "parse-resolv-conf",
        "accepted_payload_size 70000",
    ]);
    assert!(only_error(&d, 3).contains("at most 65535"));
    let (s, d) = section(&[
        "resolvers r",
        "parse-resolv-conf",
        "accepted_payload_size 100",
    ]);
    assert!(!d.has_errors() && d.warnings().count() == 1);
    let ExtraSection::Resolvers(r) = &s else {
        panic!()
    };
    assert_eq!(r.accepted_payload_size(), 512);
    let (_, d) = section(&["resolvers r", "parse-resolv-conf", "timeout connect 1s"]);
    assert!(only_error(&d, 3).contains("'resolve' or 'retry'"));
    let (_, d) = section(&["resolvers r", "parse-resolv-conf", "hold forever 1s"]);
    assert!(only_error(&d, 3).contains("nx, other, refused"));
}

#[test]
fn mailers_section() {
    let (s, d) = section(&[
        "mailers mta",
        "mailer smtp1 192.168.0.1:587",
        "timeout mail 20s",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let ExtraSection::Mailers(m) = &s else {
        panic!()
    };
    assert_eq!(m.mailers[0].addr, "192.168.0.1:587");
    assert_eq!(m.timeout_mail(), Duration::from_secs(20));
    let (s, _) = section(&["mailers mta"]);
    let ExtraSection::Mailers(m) = &s else {
        panic!()
    };
    assert_eq!(m.timeout_mail(), Duration::from_secs(10));
    let (_, d) = section(&["mailers mta", "timeout connect 1s"]);
    assert!(only_error(&d, 2).contains("'timeout mail'"));
}

#[test]
fn http_errors_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let f503 = dir.path().join("503.http");
    std::fs::write(&f503, "HTTP/1.0 503 Service Unavailable\r\n\r\nbusy\n").unwrap();
    let l1 = format!("errorfile 503 {}", f503.display());
    let l2 = format!(
        "errorfile 404 {}",
        dir.path().join("missing.http").display()
    );
    let l3 = format!("errorfile 302 {}", f503.display());
    let text = dir.path().join("503.txt");
    std::fs::write(&text, "busy\n").unwrap();
    let l4 = format!("errorfile 500 {}", text.display());
    let (s, d) = section(&["http-errors site", &l1, &l2, &l3, &l4]);
    let ExtraSection::HttpErrors(h) = &s else {
        panic!()
    };
    assert_eq!(h.files.len(), 1);
    assert_eq!(h.files[0].code, 503);
    assert!(h.files[0].content.starts_with(b"HTTP/1.0 503"));
    let errs: Vec<String> = d.errors().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[2].contains("(s.cfg:5)") && errs[2].contains("is not an HTTP response"));
    assert!(
        errs[0].contains("(s.cfg:3)")
            && errs[0].contains("cannot read")
            && errs[0].contains("missing.http")
    );
    assert!(errs[1].contains("(s.cfg:4)") && errs[1].contains("status '302' cannot be replaced"));
}

#[test]
fn ring_section() {
    let (s, d) = section(&[
        "ring buf1",
        "description My local buffer",
        "format rfc5424",
        "maxlen 1200",
        "size 32k",
        "timeout connect 5s",
        "timeout server 10s",
        "server s1 127.0.0.1:6514 log-proto octet-count",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let ExtraSection::Ring(r) = &s else { panic!() };
    assert_eq!(r.description.as_deref(), Some("My local buffer"));
    assert_eq!(r.format, Some(RingFormat::Rfc5424));
    assert_eq!(r.maxlen, Some(1200));
    assert_eq!(r.size, Some(32 * 1024));
    assert_eq!(r.timeout_server, Some(Duration::from_secs(10)));
    assert_eq!(r.servers[0].options, w("log-proto octet-count"));
    let (_, d) = section(&["ring r", "format json"]);
    assert!(only_error(&d, 2).contains("unknown ring format 'json'"));
    let (_, d) = section(&["ring r", "size lots"]);
    assert!(only_error(&d, 2).contains("not a size"));
}

#[test]
fn program_section_is_a_notice() {
    let (s, d) = section(&[
        "program dataplane",
        "command /usr/bin/dataplaneapi -f /etc/dp.yml",
        "user haproxy",
        "group haproxy",
        "option start-on-reload",
    ]);
    assert!(!d.has_errors());
    let notice = d
        .items
        .iter()
        .find(|x| x.level == Level::Notice)
        .expect("notice");
    assert!(notice.to_string().contains("does not run programs"));
    let ExtraSection::Program(p) = &s else {
        panic!()
    };
    assert_eq!(p.command[0], "/usr/bin/dataplaneapi");
    assert_eq!(p.start_on_reload, Some(true));
    let (s, _) = section(&["program p", "command x", "no option start-on-reload"]);
    let ExtraSection::Program(p) = &s else {
        panic!()
    };
    assert_eq!(p.start_on_reload, Some(false));
    let (_, d) = section(&["program p"]);
    assert!(only_error(&d, 1).contains("has no 'command'"));
}

#[test]
fn parse_section_from_reader_lines() {
    let r = read_str(
        "r.cfg",
        "mailers mta\n  mailer a 10.0.0.1:25 # primary\n  mailer a 10.0.0.2:25\n",
        &MapEnv::new(),
    );
    let mut d = Diagnostics::default();
    let s =
        parse_section(&r.lines[0].words, &r.lines[0].span, &r.lines[1..], &mut d).expect("mailers");
    let ExtraSection::Mailers(m) = &s else {
        panic!()
    };
    assert_eq!(m.mailers.len(), 2);
    assert!(only_error(&d, 3).contains("mailer 'a' already declared in mailers 'mta' at r.cfg:2"));
    assert!(parse_section(
        &["cache".to_string(), "c".to_string()],
        &r.lines[0].span,
        &[],
        &mut d
    )
    .is_none());
}
