//! Log lines as users' tools see them: HAProxy's httplog layout, syslog
//! framing on the wire.

use fulcrum_config::logformat::{LogFormat, HTTPLOG, HTTPLOG_CLF, TCPLOG};
use fulcrum_observe::log::{
    frame, render, render_line, LogMessage, LogRecord, LogServer, Logger, Severity, SyslogHeader,
    TermState, Timers,
};
use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SAMPLE: &str = include_str!("../../../../shared/fixtures/seed-logging/httplog-sample.log");

/// 2016-01-16T02:51:10.487 in the record's zone (offset 0).
fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn sample_record() -> LogRecord {
    LogRecord {
        accept_date: at(1_452_912_670_487),
        client: Some("192.168.1.10:53211".parse().unwrap()),
        frontend: "www.qfedu.com".into(),
        backend: "www.qfedu.com".into(),
        server: Some("http3".into()),
        pid: 2734,
        timers: Timers {
            th: 0,
            ti: 0,
            tr_request: 0,
            tw: 0,
            tc: 0,
            tr_response: 0,
            ta: 0,
            tt: 0,
        },
        status: Some(200),
        bytes_read: 265,
        termination: TermState::NORMAL,
        actconn: 1,
        feconn: 1,
        beconn: 0,
        srv_conn: 1,
        retries: 0,
        request_line: Some("HEAD / HTTP/1.1".into()),
        ..LogRecord::default()
    }
}

#[test]
fn httplog_line_has_the_seed_sample_layout() {
    let first = SAMPLE.lines().next().unwrap();
    let (_, payload) = first.split_once("haproxy[2734]: ").unwrap();
    let f = LogFormat::parse(HTTPLOG).unwrap();
    let line = render_line(&f, &sample_record());
    // The sample shows everything after the client address.
    assert_eq!(line, format!("192.168.1.10:53211 {payload}"));
}

#[test]
fn rfc3164_header_matches_what_syslog_stores() {
    let first = SAMPLE.lines().next().unwrap();
    let server = LogServer::parse(&["127.0.0.1", "local0"]).unwrap();
    let header = SyslogHeader {
        hostname: None,
        tag: "haproxy".into(),
        pid: 2734,
    };
    let f = LogFormat::parse(HTTPLOG).unwrap();
    let mut body = Vec::new();
    render(&f, &sample_record(), &|_| None, &mut body);
    let bytes = frame(
        &server,
        &header,
        Severity::Info,
        at(1_452_912_670_487),
        0,
        "",
        &body,
    )
    .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    // local0.info = 16*8+6; without log-send-hostname the host is `localhost`,
    // so syslog stores the datagram as it came, minus the PRI.
    let stored = first.replacen("haproxy[2734]: ", "haproxy[2734]: 192.168.1.10:53211 ", 1);
    assert_eq!(text, format!("<134>{stored}\n"));
}

#[test]
fn captures_bad_request_and_nosrv() {
    let f = LogFormat::parse(HTTPLOG).unwrap();
    let rec = LogRecord {
        server: None,
        request_line: None,
        status: Some(400),
        termination: TermState::PROXY_REQUEST,
        request_captures: vec![Some("www.example.com".into()), None],
        response_captures: vec![Some("text/\"x\"".into())],
        ..sample_record()
    };
    let line = render_line(&f, &rec);
    assert!(line.contains("www.qfedu.com/<NOSRV> "), "{line}");
    assert!(line.contains(" PR-- "), "{line}");
    assert!(
        line.ends_with(" {www.example.com|} {text/#22x#22} \"<BADREQ>\""),
        "{line}"
    );
}

#[test]
fn clf_and_tcplog_layouts() {
    let rec = sample_record();
    // Without captures %hrl/%hsl print nothing; the separator before them
    // stays, as in HAProxy's lines.
    let clf = render_line(&LogFormat::parse(HTTPLOG_CLF).unwrap(), &rec);
    assert_eq!(
        clf,
        "192.168.1.10 - - [16/Jan/2016:02:51:10 +0000] \"HEAD / HTTP/1.1\" 200 265 \"\" \"\" 53211 487 \"www.qfedu.com\" \"www.qfedu.com\" \"http3\" 0 0 0 0 0 ---- 1 1 0 1 0 0 0 \"\" \"\" "
    );
    let tcp = render_line(&LogFormat::parse(TCPLOG).unwrap(), &rec);
    assert_eq!(
        tcp,
        "192.168.1.10:53211 [16/Jan/2016:02:51:10.487] www.qfedu.com www.qfedu.com/http3 0/0/0 265 -- 1/1/0/1/0 0/0"
    );
}

#[test]
fn flags_hex_escape_and_samples() {
    let f = LogFormat::parse("%{+X}ci:%{+X}cp %{+Q,+E}[req.hdr(x)] %[src] %{+Q}ID").unwrap();
    let rec = sample_record();
    let mut out = Vec::new();
    render(
        &f,
        &rec,
        &|i| (i == 0).then(|| "a\"b]".to_string()),
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "C0A8010A:CFDB \"a\\\"b\\]\" - \"\""
    );
}

#[test]
fn timers_never_reached_print_minus_one_and_logasap_plus() {
    let f = LogFormat::parse("%TR/%Tw/%Tc/%Tr/%Ta %B %rc").unwrap();
    let rec = LogRecord {
        timers: Timers {
            tr_request: 5,
            tw: 0,
            ..Timers::default()
        },
        logasap: true,
        bytes_read: 10,
        redispatched: true,
        retries: 3,
        ..LogRecord::default()
    };
    assert_eq!(render_line(&f, &rec), "5/0/-1/-1/+-1 +10 +3");
}

fn udp_receiver() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn recv(s: &UdpSocket) -> String {
    let mut buf = [0u8; 2048];
    let n = s.recv(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn udp_receiver_gets_rfc3164_and_rfc5424_with_pri() {
    let rx1 = udp_receiver();
    let rx2 = udp_receiver();
    let a1 = rx1.local_addr().unwrap().to_string();
    let a2 = rx2.local_addr().unwrap().to_string();
    let servers = vec![
        LogServer::parse(&[&a1, "local0"]).unwrap(),
        LogServer::parse(&[&a2, "format", "rfc5424", "local7", "notice"]).unwrap(),
    ];
    let header = SyslogHeader {
        hostname: Some("lb1".into()),
        tag: "fulcrum".into(),
        pid: 42,
    };
    let logger = Logger::start(servers, header, 16).unwrap();
    let msg = |sev, body: &str| LogMessage {
        severity: sev,
        time: SystemTime::now(),
        sd: String::new(),
        body: body.as_bytes().to_vec(),
        tag: None,
    };
    assert!(logger.try_log(msg(Severity::Info, "hello")));
    assert!(logger.try_log(msg(Severity::Err, "bad")));

    let l1 = recv(&rx1);
    assert!(l1.starts_with("<134>"), "{l1}");
    assert!(l1.ends_with(" lb1 fulcrum[42]: hello\n"), "{l1}");
    // The second server only takes notice and above: info is filtered out.
    let l2 = recv(&rx2);
    assert!(l2.starts_with("<187>1 "), "{l2}"); // local7.err = 23*8+3
    assert!(l2.ends_with(" lb1 fulcrum 42 - - bad\n"), "{l2}");
    let l1b = recv(&rx1);
    assert!(l1b.starts_with("<131>"), "{l1b}");
    // A proxy's own log-tag replaces the logger's.
    let tagged = LogMessage {
        tag: Some("web".into()),
        ..msg(Severity::Info, "tagged")
    };
    assert!(logger.try_log(tagged));
    let l1c = recv(&rx1);
    assert!(l1c.ends_with(" lb1 web[42]: tagged\n"), "{l1c}");
    drop(logger);
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    // A target nobody reads; the queue of 1 fills while the thread sends.
    let sink = udp_receiver();
    let addr = sink.local_addr().unwrap().to_string();
    let logger = Logger::start(
        vec![LogServer::parse(&[&addr, "local0"]).unwrap()],
        SyslogHeader::default(),
        1,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut accepted = 0;
    for _ in 0..10_000 {
        if logger.try_log(LogMessage {
            severity: Severity::Info,
            time: SystemTime::now(),
            sd: String::new(),
            body: vec![b'x'; 100],
            tag: None,
        }) {
            accepted += 1;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let dropped = logger.stats().dropped;
    assert_eq!(accepted + dropped, 10_000);
    assert!(dropped > 0);
}

#[test]
fn levels_len_and_formats() {
    let s = LogServer::parse(&[
        "stdout", "len", "80", "format", "short", "daemon", "info", "err",
    ])
    .unwrap();
    let h = SyslogHeader::default();
    let t = at(0);
    assert_eq!(frame(&s, &h, Severity::Debug, t, 0, "", b"x"), None);
    // More severe than minlevel err: sent as err.
    assert_eq!(
        frame(&s, &h, Severity::Emerg, t, 0, "", b"x").unwrap(),
        b"<3>x\n"
    );
    let long = frame(&s, &h, Severity::Info, t, 0, "", &[b'a'; 200]).unwrap();
    assert_eq!(long.len(), 81, "80 bytes then the newline");
    assert_eq!(long.last(), Some(&b'\n'));
    let iso = LogServer::parse(&["stderr", "format", "iso", "local0"]).unwrap();
    assert_eq!(
        frame(&iso, &h, Severity::Info, t, 0, "", b"m").unwrap(),
        b"1970-01-01T00:00:00.000000+00:00 m\n"
    );
    let timed = LogServer::parse(&["stderr", "format", "timed", "local0"]).unwrap();
    assert_eq!(
        frame(&timed, &h, Severity::Info, t, 0, "", b"m").unwrap(),
        b"<6>1970-01-01T00:00:00.000000+00:00 m\n"
    );
    let prio = LogServer::parse(&["stderr", "format", "priority", "local0"]).unwrap();
    assert_eq!(
        frame(&prio, &h, Severity::Info, t, 0, "", b"m").unwrap(),
        b"<134>m\n"
    );
    let raw = LogServer::parse(&["stderr", "format", "raw", "local0"]).unwrap();
    assert_eq!(
        frame(&raw, &h, Severity::Info, t, 0, "", b"m").unwrap(),
        b"m\n"
    );
    assert!(LogServer::parse(&["127.0.0.1", "local9"]).is_err());
    assert!(LogServer::parse(&["127.0.0.1", "format", "xml", "local0"]).is_err());
    assert!(LogServer::parse(&["127.0.0.1", "local0", "info", "err", "x"]).is_err());
}

#[test]
fn targets_and_sampling() {
    use fulcrum_observe::log::{LogTarget, Sampling};
    let t = |w: &str| LogServer::parse(&[w, "local0"]).unwrap().target;
    assert_eq!(
        t("10.0.0.1"),
        LogTarget::Udp("10.0.0.1:514".parse().unwrap())
    );
    assert_eq!(
        t("10.0.0.1:1514"),
        LogTarget::Udp("10.0.0.1:1514".parse().unwrap())
    );
    assert_eq!(t("::1"), LogTarget::Udp("[::1]:514".parse().unwrap()));
    assert_eq!(
        t("udp6@[::1]:600"),
        LogTarget::Udp("[::1]:600".parse().unwrap())
    );
    assert_eq!(t("/dev/log"), LogTarget::Unix("/dev/log".into()));
    assert_eq!(t("stderr"), LogTarget::Stderr);
    let s = Sampling::parse("1-2,5:10").unwrap();
    let kept: Vec<u64> = (0..20).filter(|n| s.keeps(*n)).collect();
    assert_eq!(kept, vec![0, 1, 4, 10, 11, 14]);
    assert!(Sampling::parse("11:10").is_err());
    assert!(Sampling::parse("1").is_err());
}

#[test]
fn request_line_pieces_cut_like_haproxy() {
    let f = LogFormat::parse("%HM|%HU|%HP|%HPO|%HQ|%HV").unwrap();
    let with = |line: Option<&str>| {
        render_line(
            &f,
            &LogRecord {
                request_line: line.map(str::to_string),
                ..LogRecord::default()
            },
        )
    };
    assert_eq!(
        with(Some("GET http://h/a/b?x=1&y HTTP/1.1")),
        "GET|http://h/a/b?x=1&y|http://h/a/b|/a/b|?x=1&y|HTTP/1.1"
    );
    assert_eq!(with(Some("GET /a")), "GET|/a|/a|/a||HTTP/0.9");
    assert_eq!(
        with(Some("GET")),
        "<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>||<BADREQ>"
    );
    assert_eq!(
        with(None),
        "<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>"
    );
    // Quotes in the request line are encoded, never left raw.
    let r = LogFormat::parse("%{+Q}r").unwrap();
    let rec = LogRecord {
        request_line: Some("GET /\"x\" HTTP/1.1".into()),
        ..LogRecord::default()
    };
    assert_eq!(render_line(&r, &rec), "\"GET /#22x#22 HTTP/1.1\"");
}

#[test]
fn hex_counters_lists_and_cookies() {
    let f = LogFormat::parse("%{+X}pid %{+X}rt %{+X}Ts %hrl|%{+Q}hsl %CC").unwrap();
    let rec = LogRecord {
        pid: 42,
        request_counter: 7,
        accept_date: at(1_000_000),
        response_captures: vec![Some("a".into()), None],
        captured_request_cookie: Some("SRV=\"1\"".into()),
        ..LogRecord::default()
    };
    // No request captures: %hrl prints nothing; a missing quoted capture is "".
    assert_eq!(
        render_line(&f, &rec),
        "002A 0007 000003E8 |\"a\" \"\" SRV=\"1\""
    );
}

#[test]
fn unix_datagram_target_like_dev_log() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let p = path.to_str().unwrap();
    let logger = Logger::start(
        vec![LogServer::parse(&[p, "format", "short", "daemon"]).unwrap()],
        SyslogHeader::default(),
        4,
    )
    .unwrap();
    assert!(logger.try_log(LogMessage {
        severity: Severity::Warning,
        time: SystemTime::now(),
        sd: String::new(),
        body: b"disk".to_vec(),
        tag: Some("web".into()),
    }));
    let mut buf = [0u8; 256];
    let n = rx.recv(&mut buf).unwrap();
    // `short` carries the level only: warning = 4.
    assert_eq!(&buf[..n], b"<4>disk\n");
    drop(logger);
}

proptest::proptest! {
    /// Whatever the values, a rendered line is one line.
    #[test]
    fn rendering_never_panics_nor_breaks_the_line(
        req in proptest::option::of("\\PC{0,30}|[\\x00-\\x7f]{0,30}"),
        cap in "[\\x00-\\xff]{0,20}",
        sample in "[\\x00-\\x7f]{0,20}",
        id in "[\\x00-\\x7f]{0,10}",
    ) {
        let f = LogFormat::parse(&format!("{HTTPLOG} %HM %HU %HP %HPO %HQ %HV %ID %{{+Q,+E}}[x] %hrl %CC")).unwrap();
        let rec = LogRecord {
            request_line: req,
            request_captures: vec![Some(cap.clone()), None],
            captured_request_cookie: Some(cap),
            unique_id: Some(id),
            ..sample_record()
        };
        let mut out = Vec::new();
        render(&f, &rec, &|_| Some(sample.clone()), &mut out);
        proptest::prop_assert!(!out.contains(&b'\n') && !out.contains(&b'\r'));
    }
}

proptest::proptest! {
    /// `log` lines from any configuration parse or fail cleanly.
    #[test]
    fn log_line_parsing_never_panics(
        words in proptest::collection::vec(
            proptest::sample::select(vec![
                "127.0.0.1", "[::1]:514", "udp@1.2.3.4:9", "/dev/log", "stdout", "ring@x", "len",
                "80", "79", "99999", "format", "rfc5424", "short", "sample", "1-2,5:10", "3:2",
                "0:1", ":", "local0", "daemon", "info", "err", "x",
            ]),
            0..8,
        )
    ) {
        let _ = LogServer::parse(&words);
    }
}

#[test]
fn unix_socket_ends_print_as_haproxy_does() {
    // A client of a UNIX listener logs as "unix:<listener id>"; other UNIX ends print "unix".
    let rec = LogRecord {
        client: Some(fulcrum_observe::log::unix_addr(2)),
        frontend_addr: Some(fulcrum_observe::log::unix_addr(0)),
        server_addr: Some(fulcrum_observe::log::unix_addr(3)),
        ..sample_record()
    };
    let f = LogFormat::parse("%ci:%cp %fi:%fp %si:%sp").unwrap();
    assert_eq!(render_line(&f, &rec), "unix:2 unix:unix unix:unix");
    let f = LogFormat::parse(HTTPLOG).unwrap();
    assert!(render_line(&f, &rec).starts_with("unix:2 ["));
}
