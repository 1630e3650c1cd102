//! Lines from older HAProxy versions: accepted with their old meaning and a warning
//! naming the modern form.

use fulcrum_config::model::options::HttpMode;
use fulcrum_config::reader::ProcessEnv;
use fulcrum_config::{load_str, Loaded};
use std::time::Duration;

fn load(text: &str) -> Loaded {
    load_str("old.cfg", text, &ProcessEnv)
}

/// (line, text) of each warning.
fn warnings(l: &Loaded) -> Vec<(u32, String)> {
    l.diagnostics
        .warnings()
        .map(|d| (d.span.as_ref().map_or(0, |s| s.line), d.to_string()))
        .collect()
}

#[test]
fn old_timeouts_keep_their_values() {
    let l = load("defaults\ncontimeout 4000\nclitimeout 30s\nsrvtimeout 1m\nlisten l\nbind :80\nserver s 127.0.0.1:1\n");
    let w = warnings(&l);
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(w[0].1.contains("write 'timeout connect 4000'"));
    assert!(w[1].1.contains("write 'timeout client 30s'"));
    assert!(w[2].1.contains("write 'timeout server 1m'"));
    let c = l.config.unwrap();
    let t = &c.proxies[0].timeouts;
    assert_eq!(
        (t.connect, t.client, t.server),
        (
            Some(Duration::from_millis(4000)),
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(60))
        )
    );
}

#[test]
fn listen_with_an_address_becomes_a_bind() {
    let l = load("defaults\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\nlisten web 0.0.0.0:8080\nserver s 127.0.0.1:1\n");
    let w = warnings(&l);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].0, 5);
    assert!(w[0].1.contains("'bind 0.0.0.0:8080'"));
    let c = l.config.unwrap();
    assert_eq!(c.proxies[0].binds[0].addresses[0].port(), Some(8080));
}

#[test]
fn bare_redispatch_forceclose_and_nbproc() {
    let l = load(
        "global\nnbproc 4\ndefaults\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n\
         backend b\nredispatch\noption forceclose\nbind-process 1\nserver s 127.0.0.1:1\n",
    );
    let w = warnings(&l);
    assert_eq!(
        w.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![2, 8, 9, 10],
        "{w:#?}"
    );
    assert!(w[0].1.contains("nbthread 4"));
    assert!(w[1].1.contains("'option redispatch'"));
    assert!(w[2].1.contains("'option httpclose'"));
    assert!(w[3].1.contains("'bind-process'"));
    let c = l.config.unwrap();
    assert_eq!(c.global.threads(), Some(4));
    let b = c.backend("b").unwrap();
    assert_eq!(b.options.redispatch, Some(1));
    assert_eq!(b.options.http_mode, HttpMode::Close);
}

#[test]
fn legacy_rules_are_kept_with_a_warning() {
    let l = load(
        "defaults\nmode http\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n\
         frontend f\nbind :80\nacl bad path_beg /admin\nblock if bad\nreqadd X-Proto:\\ http\nrspdel ^Server:.*\n\
         default_backend b\nbackend b\nserver s 127.0.0.1:1\n",
    );
    let w = warnings(&l);
    assert_eq!(
        w.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![9, 10, 11],
        "{w:#?}"
    );
    let c = l.config.unwrap();
    let f = c.frontend("f").unwrap();
    assert_eq!(
        f.http_request.len(),
        2,
        "block and reqadd run as request rules"
    );
    assert_eq!(f.http_response.len(), 1, "rspdel runs on responses");
}

#[test]
fn monitor_net_is_kept() {
    let l = load(
        "defaults\nmode http\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n\
         frontend f\nbind :80\nmonitor-uri /up\nmonitor-net 10.0.0.0/8\n",
    );
    let w = warnings(&l);
    assert_eq!(w.len(), 1);
    assert!(w[0]
        .1
        .contains("http-request return status 200 if { src 10.0.0.0/8 }"));
    let f = l.config.unwrap().proxies.remove(0);
    assert_eq!(f.monitor_net.len(), 1);
    assert!(f.monitor_net[0].contains("10.1.2.3".parse().unwrap()));
}
