//! `fulcrum migrate`: every legacy line rewritten, everything else byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

use fulcrum_config::migrate::{legacy_findings, migrate};
use fulcrum_config::reader::{read_str, MapEnv};

const SEEDS: &str = "/work/shared/fixtures/seed-configs";

fn seeds() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/seed-configs");
    let dir = if dir.exists() {
        dir
    } else {
        PathBuf::from(SEEDS)
    };
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("seed configs")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&std::fs::read(&p).expect("read seed")).into_owned();
            (name, text)
        })
        .collect();
    out.sort();
    assert_eq!(out.len(), 10, "the ten seed configs");
    out
}

fn run(text: &str) -> String {
    migrate(text, "t.cfg", &MapEnv::new()).expect("migrate")
}

fn legacy_in(text: &str) -> Vec<String> {
    let r = read_str("out.cfg", text, &MapEnv::new());
    assert!(
        r.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        r.diagnostics
    );
    legacy_findings(&r.lines)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn seeds_migrate_to_configs_without_legacy_lines() {
    for (name, text) in seeds() {
        let before = legacy_in(&text);
        let out = run(&text);
        assert!(legacy_in(&out).is_empty(), "{name}: {:?}", legacy_in(&out));
        assert_eq!(run(&out), out, "{name}: migrate is idempotent");
        let has_legacy = ["03", "05", "06", "07", "09"]
            .iter()
            .any(|p| name.starts_with(p));
        assert_eq!(!before.is_empty(), has_legacy, "{name}: {before:?}");
        if !has_legacy {
            assert_eq!(out, text, "{name}: nothing to migrate, byte for byte");
        }
        // every line that is not legacy is kept verbatim, in order
        let kept: Vec<&str> = out.lines().collect();
        let mut j = 0;
        for l in text.lines() {
            if let Some(k) = kept[j..].iter().position(|x| *x == l) {
                j += k + 1;
            }
        }
        let changed = text.lines().count() - text.lines().filter(|l| kept.contains(l)).count();
        assert_eq!(
            changed,
            before.len(),
            "{name}: only the legacy lines change"
        );
    }
}

#[test]
fn seed_03_lines() {
    let text = std::fs::read_to_string(format!("{SEEDS}/03-cometd-websocket-longpoll.cfg"))
        .expect("seed 03");
    let out = run(&text);
    assert!(
        out.contains("\nnbthread 1      #only one instance allowed\n"),
        "{out}"
    );
    assert!(out.contains("\noption httpchk GET /cometd HTTP/1.1\nhttp-check send hdr Connection upgrade hdr Upgrade websocket\n# fulcrum migrate: glued header 'Host' had an empty value; HAProxy does not send it either"), "{out}");
    assert!(out.contains(
        "\nstick-table type string len 25 size 1m expire 15m        #for Long-polling keep session\n\
         stick store-response res.cook(SERVERID)\nstick on req.cook(SERVERID)\nstick on urlp(SERVERID,;)\n"
    ), "{out}");
    assert!(out.contains("\nhttp-check expect status 101\n"));
}

#[test]
fn seed_05_and_07_lines_keep_indentation_and_comments() {
    let s05 =
        std::fs::read_to_string(format!("{SEEDS}/05-listen-stats-httpchk.cfg")).expect("seed 05");
    let out = run(&s05);
    assert!(
        out.contains("\n     timeout connect   5000      ##"),
        "{out}"
    );
    assert!(out.contains("\n     timeout client   50000     ##"));
    assert!(out.contains("\n     timeout server   50000     ##"));
    assert!(out.contains("\n     nbthread   8         ##"));
    assert!(out.contains("\n        stats uri /admin?stats"));
    assert!(
        out.contains("bind  x.x.x.x:80"),
        "real errors are not migrate's job"
    );
    assert!(
        out.contains("\n     option httpclose\n"),
        "option httpclose stays"
    );
    let s07 = std::fs::read_to_string(format!("{SEEDS}/07-full-annotated.cfg")).expect("seed 07");
    let out = run(&s07);
    assert!(out.contains(
        "\n     http-request set-log-level silent if { src 192.168.16.2/32 }          # "
    ));
    assert!(out.contains("\n     http-request return status 200 if { src 192.168.16.2/32 }\n"));
    assert!(out.contains("\n     http-request return status 200 if { src 192.168.16.3/32 }"));
}

#[test]
fn seed_04_duplicates_are_left_alone() {
    let s04 =
        std::fs::read_to_string(format!("{SEEDS}/04-websocket-host-routing.cfg")).expect("seed 04");
    assert_eq!(run(&s04), s04);
}

#[test]
fn header_rules() {
    let cases = [
        (
            "reqadd X-Proto:\\ https",
            "http-request add-header X-Proto https",
        ),
        (
            "rspadd X-Ratio:\\ 50% if ok",
            "http-response add-header X-Ratio 50%% if ok",
        ),
        (
            "reqdel ^X-Forwarded-For:.*",
            "http-request del-header X-Forwarded-For",
        ),
        ("reqidel ^Proxy:", "http-request del-header Proxy"),
        ("rspdel ^Server:", "http-response del-header Server"),
        (
            "reqrep ^Host:\\ (.*)  Host:\\ www.\\1",
            "http-request replace-header Host ^(.*) 'www.\\1'",
        ),
        (
            "reqirep ^Host:\\ a.com  Host:\\ b.com",
            "http-request replace-header Host (?i)^a.com b.com",
        ),
        (
            "rsprep ^Location:\\ http://(.*) Location:\\ https://\\1",
            "http-response replace-header Location ^http://(.*) 'https://\\1'",
        ),
        (
            "reqrep ^([^\\ :]*)\\ /static/(.*)     \\1\\ /\\2",
            "http-request replace-uri ^/static/(.*) '/\\1'",
        ),
        (
            "reqdeny ^User-Agent:\\ .*curl",
            "http-request deny if { req.fhdr(User-Agent) -m reg ^.*curl }",
        ),
        (
            "reqideny ^X-Bad: if from_net",
            "http-request deny if { req.fhdr(X-Bad) -m found } from_net",
        ),
        (
            "reqallow ^Host:\\ ok unless bad",
            "http-request allow if { req.fhdr(Host) -m reg ^ok } !bad",
        ),
        (
            "reqitarpit ^X-Attack:\\ yes",
            "http-request tarpit if { req.fhdr(X-Attack) -i -m reg ^yes }",
        ),
        (
            "reqsetbe ^Host:\\ img bk_img",
            "use_backend bk_img if { req.fhdr(Host) -m reg ^img }",
        ),
        (
            "rspideny ^Server:\\ iis",
            "http-response deny if { res.fhdr(Server) -i -m reg ^iis }",
        ),
        ("block if bad_guys", "http-request deny if bad_guys"),
        ("redispatch", "option redispatch"),
        ("option forceclose", "option httpclose"),
    ];
    // `redirect` is still a modern keyword (it runs after the http-request rules):
    // migrate must leave it alone.
    let kept =
        "frontend f\n    mode http\n    redirect prefix http://www.example.com code 301 if old\n";
    assert_eq!(run(kept), kept);
    for (line, want) in cases {
        let text = format!("frontend f\n    mode http\n    {line}   # keep me\n");
        let out = run(&text);
        assert_eq!(
            out,
            format!("frontend f\n    mode http\n    {want}   # keep me\n"),
            "{line}"
        );
        assert!(legacy_in(&out).is_empty(), "{line}");
    }
}

#[test]
fn lines_without_a_modern_form_become_explained_comments() {
    for line in [
        "reqrep ^GET\\ /x GET\\ /y",
        "reqdeny ^[^:\\ ]*\\ .*\\.\\.",
        "reqdel ^X-",
        "reqpass ^X-A:",
    ] {
        let out = run(&format!("backend b\n  {line}\n"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines[1].starts_with("  # fulcrum migrate: '")
                && lines[1].contains("was removed from HAProxy"),
            "{out}"
        );
        assert!(lines[2].starts_with("  # req"), "{out}");
        assert!(legacy_in(&out).is_empty());
    }
}

#[test]
fn monitor_net_by_mode_and_appsession_options() {
    let out = run("defaults\n  mode tcp\nlisten l\n  monitor-net 10.0.0.0/8\n");
    assert!(
        out.ends_with("  tcp-request connection reject if { src 10.0.0.0/8 }\n"),
        "{out}"
    );
    let out = run("defaults\n  monitor-net 10.0.0.0/8\n");
    assert!(
        out.contains("# fulcrum migrate: 'monitor-net 10.0.0.0/8' was removed"),
        "{out}"
    );
    let out =
        run("backend b\n  appsession JSESSIONID len 52 timeout 3h prefix mode query-string\n");
    assert!(out.contains("  stick on urlp(JSESSIONID)\n"), "{out}");
    assert!(out.contains("  # fulcrum migrate: 'appsession … prefix' has no modern form"));
    let out = run("backend b\n  stick-table type ip size 1k\n  appsession S len 5 timeout 1h\n");
    assert!(out.contains("already has a stick-table"), "{out}");
    assert!(legacy_in(&out).is_empty());
}

#[test]
fn crlf_endings_and_last_line_without_newline_are_kept() {
    let text = "defaults\r\n  contimeout 5000\r\n  clitimeout 1000";
    assert_eq!(
        run(text),
        "defaults\r\n  timeout connect 5000\r\n  timeout client 1000"
    );
    let text = "backend b\r\n  appsession S len 5 timeout 1h\r\n";
    let out = run(text);
    assert_eq!(out.matches("\r\n").count(), 5, "{out:?}");
}

#[test]
fn unreadable_text_is_an_error() {
    let err = migrate("global\n  log \"127.0.0.1\n", "bad.cfg", &MapEnv::new())
        .expect_err("unterminated quote");
    assert!(err.has_errors());
    assert!(err
        .errors()
        .all(|d| d.span.as_ref().is_some_and(|s| s.line == 2)));
}

/// A runnable copy: addresses → 127.0.0.1, paths → `dir`, user/group dropped.
fn runnable_copy(text: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut section = String::new();
    for line in text.lines() {
        let body = line.split('#').next().unwrap_or("");
        let w: Vec<&str> = body.split_whitespace().collect();
        let first = w.first().copied().unwrap_or("");
        if !first.is_empty() && !line.starts_with([' ', '\t']) {
            section = first.to_string();
        }
        let port = |a: &str| a.rsplit(':').next().unwrap_or("80").to_string();
        let new = match (section.as_str(), first) {
            ("global", "user" | "group" | "uid" | "gid" | "chroot") => String::new(),
            ("global", "pidfile") => format!("pidfile {}/haproxy.pid", dir.display()),
            ("global", "stats") if w.get(1) == Some(&"socket") => {
                format!("stats socket {}/admin.sock", dir.display())
            }
            (_, "bind") => format!("bind 127.0.0.1:{} {}", port(w[1]), w[2..].join(" ")),
            (_, "server") => format!(
                "server {} 127.0.0.1:{} {}",
                w[1],
                port(w[2]),
                w[3..].join(" ")
            ),
            (_, "errorfile") => {
                let f = dir.join(format!("{}.http", w[1]));
                std::fs::write(
                    &f,
                    format!("HTTP/1.0 {} Error\r\nContent-Length: 0\r\n\r\n", w[1]),
                )
                .expect("errorfile");
                format!("errorfile {} {}", w[1], f.display())
            }
            _ => line.to_string(),
        };
        out.push_str(&new);
        out.push('\n');
    }
    out
}

#[test]
fn haproxy_accepts_migrated_seeds() {
    let haproxy = Path::new("/usr/sbin/haproxy");
    if !haproxy.exists() {
        eprintln!("skipped: /usr/sbin/haproxy is not installed");
        return;
    }
    for (name, text) in seeds() {
        if name.starts_with("04") {
            // duplicate server names: a real error, outside migrate's job
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("out.cfg");
        std::fs::write(&cfg, runnable_copy(&run(&text), dir.path())).expect("write");
        let res = Command::new(haproxy)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .expect("run haproxy");
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(
            res.status.success(),
            "{name}: haproxy -c refused the migrated copy:\n{stderr}\n{}",
            std::fs::read_to_string(&cfg).unwrap_or_default()
        );
        for legacy in [
            "deprecated",
            "not supported anymore",
            "doesn't exist anymore",
        ] {
            assert!(!stderr.contains(legacy), "{name}: {stderr}");
        }
    }
}

/// Words of the loader's warnings about removed or deprecated forms.
const LEGACY_WORDS: [&str; 6] = [
    "not supported anymore",
    "deprecated",
    "removed",
    "legacy",
    "doesn't exist anymore",
    "1.x",
];

#[test]
fn loader_reads_migrated_seeds_without_legacy_warnings() {
    for (name, text) in seeds() {
        let before = fulcrum_config::load_str(&name, &text, &MapEnv::new());
        let legacy_before = before
            .diagnostics
            .warnings()
            .filter(|d| LEGACY_WORDS.iter().any(|w| d.message.contains(w)))
            .count();
        let out = run(&text);
        let after = fulcrum_config::load_str(&name, &out, &MapEnv::new());
        let legacy: Vec<String> = after
            .diagnostics
            .items
            .iter()
            .filter(|d| LEGACY_WORDS.iter().any(|w| d.message.contains(w)))
            .map(ToString::to_string)
            .collect();
        assert!(legacy.is_empty(), "{name}: {legacy:#?}");
        assert!(
            after.diagnostics.errors().count() <= before.diagnostics.errors().count(),
            "{name}: migrate added errors: {:#?}",
            after.diagnostics.items
        );
        if ["03", "05", "06", "07", "09"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            assert!(
                legacy_before > 0,
                "{name}: the loader warns about the original"
            );
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    const MODERN: [&str; 10] = [
        "mode http",
        "timeout connect 5s",
        "option httpclose",
        "http-request deny if { src 10.0.0.0/8 }",
        "server s1 127.0.0.1:80 check inter 2s",
        "stats uri /admin?stats",
        "option httpchk GET / HTTP/1.1",
        "balance roundrobin",
        "acl bad hdr(x) -m reg ^a\\ b$",
        "stick on src",
    ];
    const LEGACY: [(&str, &str); 6] = [
        ("contimeout 5000", "timeout connect 5000"),
        ("srvtimeout 1m", "timeout server 1m"),
        ("block if bad", "http-request deny if bad"),
        ("reqadd X-A:\\ b", "http-request add-header X-A b"),
        ("stats uri/x", "stats uri /x"),
        ("rspdel ^Server:", "http-response del-header Server"),
    ];

    fn line() -> impl Strategy<Value = (String, usize, String)> {
        (
            prop::sample::select(vec!["", " ", "    ", "\t", " \t "]),
            0..MODERN.len(),
            prop::sample::select(vec!["", " ", "  # note", "\t#x y", " ## 注释 "]),
        )
            .prop_map(|(i, k, c)| (i.to_string(), k, c.to_string()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn modern_text_is_kept_byte_for_byte(lines in prop::collection::vec(line(), 0..12), crlf: bool, last_nl: bool) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("backend b{nl}");
            for (i, (indent, k, c)) in lines.iter().enumerate() {
                text.push_str(&format!("{indent}{}{c}", MODERN[*k]));
                if i + 1 < lines.len() || last_nl {
                    text.push_str(nl);
                }
            }
            prop_assert_eq!(run(&text), text);
        }

        #[test]
        fn legacy_lines_keep_indent_and_comment(lines in prop::collection::vec(line(), 1..8)) {
            let mut text = String::from("listen l\n");
            let mut want = String::from("listen l\n");
            for (indent, k, c) in &lines {
                let (old, new) = LEGACY[k % LEGACY.len()];
                text.push_str(&format!("{indent}{old}{c}\n"));
                want.push_str(&format!("{indent}{new}{c}\n"));
            }
            let out = run(&text);
            prop_assert_eq!(&out, &want);
            prop_assert!(legacy_in(&out).is_empty());
        }

        #[test]
        fn any_mix_converges_in_one_pass(lines in prop::collection::vec((
            prop::sample::select(vec![
                "global", "defaults", "frontend f", "backend b", "listen l", "userlist u", "mode http", "mode tcp",
                "nbproc", "contimeout", "clitimeout", "srvtimeout", "redispatch", "block", "redirect", "stats",
                "option", "monitor-net", "appsession", "reqadd", "rspadd", "reqdel", "reqidel", "rspdel",
                "reqrep", "reqirep", "rsprep", "reqdeny", "reqideny", "reqallow", "reqtarpit", "reqpass",
                "reqsetbe", "rspdeny", "stick-table", "user",
            ]),
            prop::collection::vec(prop::sample::select(vec![
                "5000", "uri/x", "forceclose", "httpchk", "GET", "/", "HTTP/1.1\\r\\nHost:\\ a", "10.0.0.0/8",
                "S", "len", "5", "timeout", "1h", "prefix", "^Host:", "^Host:\\ (.*)", "Host:\\ \\1",
                "X-A:\\ b", "^([^\\ :]*)\\ /a/(.*)", "\\1\\ /\\2", "if", "unless", "c", "!c", "bk",
                "{", "}", "type", "ip", "size", "1k", "#", "'q w'",
            ]), 0..6),
        ), 0..14)) {
            let text: String = lines.iter().map(|(k, a)| format!("  {k} {}\n", a.join(" "))).collect();
            let Ok(out) = migrate(&text, "p.cfg", &MapEnv::new()) else { return Ok(()); };
            let r = read_str("p.cfg", &out, &MapEnv::new());
            prop_assert!(r.diagnostics.iter().all(|d| !d.is_error()), "{:?}\n{}", r.diagnostics, out);
            let left: Vec<String> = legacy_findings(&r.lines).iter().map(ToString::to_string).collect();
            prop_assert!(left.is_empty(), "{:?}\n{}", left, out);
            prop_assert_eq!(run(&out), out);
        }
    }
}

#[test]
fn more_removed_forms() {
    let out = run("listen www 0.0.0.0:80,:8080   # old style\n    mode http\n");
    assert_eq!(
        out,
        "listen www   # old style\n    bind 0.0.0.0:80,:8080\n    mode http\n"
    );
    let out = run("defaults\n  transparent\n  option independant-streams\n  grace 10s\n  option http-tunnel\n");
    assert!(
        out.contains("\n  option transparent\n  option independent-streams\n"),
        "{out}"
    );
    assert!(out.contains("\n  # fulcrum migrate: 'grace' was removed from HAProxy; stopping is bounded by 'hard-stop-after'"), "{out}");
    assert!(
        out.contains("\n  # fulcrum migrate: 'option http-tunnel' was removed from HAProxy;"),
        "{out}"
    );
    assert!(out.contains("\n  # option http-tunnel\n"), "{out}");
    let loaded = fulcrum_config::load_str("m.cfg", &out, &MapEnv::new());
    let legacy: Vec<String> = loaded
        .diagnostics
        .items
        .iter()
        .filter(|d| LEGACY_WORDS.iter().any(|w| d.message.contains(w)))
        .map(ToString::to_string)
        .collect();
    assert!(legacy.is_empty(), "{legacy:#?}");
    assert_eq!(
        run("frontend f from defs\n"),
        "frontend f from defs\n",
        "'from' is modern"
    );
    let out = run("global\n  stats bind-process 1\nbackend b\n  bind-process 1 2\n");
    assert!(out.contains("  # fulcrum migrate: 'stats bind-process' was removed from HAProxy; threads replaced processes"), "{out}");
    assert!(out.contains("  # fulcrum migrate: 'bind-process' was removed from HAProxy; threads replaced processes"), "{out}");
    assert!(out.contains("\n  # bind-process 1 2\n"), "{out}");
}

#[test]
fn haproxy_accepts_every_generated_rule() {
    let haproxy = Path::new("/usr/sbin/haproxy");
    if !haproxy.exists() {
        eprintln!("skipped: /usr/sbin/haproxy is not installed");
        return;
    }
    let legacy = "\
defaults
    mode http
    contimeout 5s
    clitimeout 5s
    srvtimeout 5s
    redispatch
listen lst 127.0.0.1:8081
    monitor-net 10.0.0.0/8
    server s 127.0.0.1:80
frontend fe
    bind 127.0.0.1:8080
    acl ok src 127.0.0.1
    acl bad src 10.9.9.9
    block if bad
    redirect prefix http://www.example.com code 301 if bad
    reqadd X-Proto:\\ https
    reqdel ^X-Forwarded-For:.*
    reqrep ^Host:\\ (.*)  Host:\\ www.\\1
    reqirep ^Host:\\ a.com  Host:\\ b.com
    reqrep ^([^\\ :]*)\\ /static/(.*)     \\1\\ /\\2
    reqdeny ^User-Agent:\\ .*curl
    reqideny ^X-Bad: if ok
    reqallow ^Host:\\ ok unless bad
    reqitarpit ^X-Attack:\\ yes
    reqsetbe ^Host:\\ img bk
    reqpass ^X-A:
    rspadd X-Ratio:\\ 50% if ok
    rspdel ^Server:
    rsprep ^Location:\\ http://(.*) Location:\\ https://\\1
    rspideny ^Server:\\ iis
    default_backend bk
backend bk
    option forceclose
    option httpchk GET / HTTP/1.1\\r\\nHost:\\ example.com\\r\\nX-A:\\ 1
    http-check expect status 200
    appsession JSESSIONID len 52 timeout 3h request-learn
    server s 127.0.0.1:80 check
";
    let out = run(legacy);
    assert!(legacy_in(&out).is_empty());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("rules.cfg");
    std::fs::write(&cfg, &out).expect("write");
    let res = Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("run haproxy");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "haproxy -c refused:\n{stderr}\n{out}");
    for word in [
        "deprecated",
        "not supported anymore",
        "doesn't exist anymore",
    ] {
        assert!(!stderr.contains(word), "{stderr}");
    }
}
