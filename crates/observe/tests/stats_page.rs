//! The HTML stats page and the Prometheus page.

use fulcrum_observe::stats::admin::AdminOutcome;
use fulcrum_observe::stats::html::{
    human_time, render_page, server_class, PageFormat, PageOptions, PageRequest,
};
use fulcrum_observe::stats::{prom, AtomicHistogram, ProcessInfo, ServerStatus, Timings};

mod common;
use common::sample_proxies;

fn info() -> ProcessInfo {
    ProcessInfo {
        version: "0.1.0".into(),
        release_date: "2026/11/21".into(),
        pid: 77,
        ..ProcessInfo::default()
    }
}

#[test]
fn page_has_proxy_tables_colours_and_refresh() {
    let opts = PageOptions {
        uri: "/stats".into(),
        refresh: Some(5),
        ..PageOptions::default()
    };
    let page = render_page(&info(), &sample_proxies(), &opts, &PageRequest::default());
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(page.contains("Statistics Report for pid 77"));
    assert!(page.contains("version 0.1.0, released 2026/11/21"));
    assert!(page.contains("<a class=px href=\"#www\">www</a>"));
    // Names are escaped.
    assert!(page.contains("app, &quot;main&quot;"));
    assert!(page.contains("<tr class=\"active_up\">"));
    assert!(page.contains("<tr class=\"maintain\">"));
    assert!(page.contains("L7OK/200 in 1ms"));
    assert!(page.contains("href=\"/stats;csv\""));
    assert!(
        !page.contains("<form"),
        "no admin form without 'stats admin'"
    );

    let described = PageOptions {
        show_node: Some("lb1".into()),
        show_desc: Some("edge <a>".into()),
        ..opts.clone()
    };
    let page = render_page(
        &info(),
        &sample_proxies(),
        &described,
        &PageRequest::default(),
    );
    assert!(page.contains("<h2>Statistics Report for pid 77 on lb1: edge &lt;a&gt;</h2>"));

    let norefresh = render_page(
        &info(),
        &sample_proxies(),
        &opts,
        &PageRequest::parse(";norefresh"),
    );
    assert!(!norefresh.contains("http-equiv=\"refresh\""));
}

#[test]
fn hide_version_up_only_and_scope() {
    let opts = PageOptions {
        uri: "/s".into(),
        hide_version: true,
        scope: vec!["app, \"main\"".into()],
        ..PageOptions::default()
    };
    let page = render_page(
        &info(),
        &sample_proxies(),
        &opts,
        &PageRequest::parse(";up"),
    );
    assert!(!page.contains("0.1.0"));
    assert!(!page.contains("href=\"#www\""), "scope hides other proxies");
    assert!(
        !page.contains("<tr class=\"maintain\">"),
        ";up hides servers that are not up"
    );
    assert!(page.contains("Show all servers"));
}

#[test]
fn admin_form_posts_haproxy_fields() {
    let opts = PageOptions {
        uri: "/s".into(),
        admin: true,
        ..PageOptions::default()
    };
    let page = render_page(
        &info(),
        &sample_proxies(),
        &opts,
        &PageRequest::parse(";st=DONE"),
    );
    assert!(page.contains("<form method=\"post\">"));
    assert!(page.contains("type=\"checkbox\" name=\"s\" value=\"s1\""));
    assert!(page.contains("<select name=action"));
    assert!(page.contains("<option value=\"maint\">Set state to MAINT</option>"));
    assert!(page.contains("<input type=\"hidden\" name=\"b\" value=\"#3\">"));
    assert!(page.contains(AdminOutcome::Done.message()));
}

#[test]
fn request_suffixes() {
    assert_eq!(PageRequest::parse(";csv").format, PageFormat::Csv);
    assert_eq!(PageRequest::parse(";json").format, PageFormat::Json);
    let r = PageRequest::parse(";up;norefresh;st=DENY");
    assert!(r.up_only && r.norefresh);
    assert_eq!(r.status, Some(AdminOutcome::Denied));
}

#[test]
fn classes_and_durations() {
    let mut sv = sample_proxies()[1].servers[0].clone();
    sv.status = ServerStatus::GoingDown { n: 1, of: 3 };
    assert_eq!(server_class(&sv), "active_going_down");
    sv.backup = true;
    sv.status = ServerStatus::Down;
    assert_eq!(server_class(&sv), "backup_down");
    sv.status = ServerStatus::Up;
    sv.weight = 0;
    assert_eq!(server_class(&sv), "backup_draining");
    assert_eq!(human_time(7), "7s");
    assert_eq!(human_time(125), "2m5s");
    assert_eq!(human_time(3 * 3600 + 60), "3h1m");
    assert_eq!(human_time(2 * 86400 + 3600), "2d1h");
}

#[test]
fn prometheus_names_labels_and_histograms() {
    let mut px = sample_proxies();
    let h = AtomicHistogram::default();
    h.observe(3);
    h.observe(700);
    let snap = h.snapshot();
    if let Some(be) = px[1].backend.as_mut() {
        be.timings = Some(Timings {
            queue: snap.clone(),
            connect: snap.clone(),
            response: snap.clone(),
            total: snap,
        });
    }
    let text = prom::render(&info(), &px);
    assert!(text.contains(
        "# TYPE haproxy_process_current_connections gauge\nhaproxy_process_current_connections 0\n"
    ));
    assert!(text.contains("haproxy_frontend_sessions_total{proxy=\"www\"} 100\n"));
    assert!(text.contains("haproxy_frontend_http_responses_total{proxy=\"www\",code=\"2xx\"} 95\n"));
    assert!(text.contains("haproxy_backend_active_servers{proxy=\"app, \\\"main\\\"\"} 1\n"));
    assert!(text.contains(
        "haproxy_server_status{proxy=\"app, \\\"main\\\"\",server=\"s2\",state=\"MAINT\"} 1\n"
    ));
    assert!(text.contains("# TYPE haproxy_backend_connect_time_seconds histogram\n"));
    assert!(text.contains(
        "haproxy_backend_connect_time_seconds_bucket{proxy=\"app, \\\"main\\\"\",le=\"0.005\"} 1\n"
    ));
    assert!(text.contains(
        "haproxy_backend_connect_time_seconds_bucket{proxy=\"app, \\\"main\\\"\",le=\"+Inf\"} 2\n"
    ));
    assert!(text
        .contains("haproxy_backend_connect_time_seconds_sum{proxy=\"app, \\\"main\\\"\"} 0.703\n"));
    assert!(text.contains("haproxy_backend_status{proxy=\"app, \\\"main\\\"\",state=\"UP\"} 1\n"));
    assert!(text.contains("haproxy_backend_status{proxy=\"app, \\\"main\\\"\",state=\"DOWN\"} 0\n"));
    assert!(text.contains("haproxy_server_http_responses_total{proxy=\"app, \\\"main\\\"\",server=\"s1\",code=\"5xx\"} 0\n"));
    // Every family is announced once.
    let types = text
        .lines()
        .filter(|l| l.starts_with("# TYPE haproxy_server_status "))
        .count();
    assert_eq!(types, 1);
}

#[test]
fn response_format_follows_the_suffix() {
    use fulcrum_observe::stats::html::render_response;
    let opts = PageOptions {
        uri: "/s".into(),
        scope: vec!["www".into()],
        ..PageOptions::default()
    };
    let (ct, body) = render_response(
        &info(),
        &sample_proxies(),
        &opts,
        &PageRequest::parse(";csv"),
    );
    assert_eq!(ct, "text/plain");
    assert!(body.starts_with("# pxname,"));
    assert_eq!(body.lines().count(), 2, "scope keeps only 'www': {body}");
    let (ct, body) = render_response(
        &info(),
        &sample_proxies(),
        &opts,
        &PageRequest::parse(";json"),
    );
    assert_eq!(ct, "application/json");
    assert!(body.starts_with("[["));
    let (ct, _) = render_response(&info(), &sample_proxies(), &opts, &PageRequest::default());
    assert_eq!(ct, "text/html");
}

/// Cells of a table row, counting `colspan`.
fn cells(row: &str) -> usize {
    row.split("<td")
        .skip(1)
        .map(|c| {
            c.split_once("colspan=")
                .filter(|(before, _)| !before.contains('>'))
                .and_then(|(_, n)| {
                    n.trim_start_matches('"')
                        .split(|ch: char| !ch.is_ascii_digit())
                        .next()?
                        .parse()
                        .ok()
                })
                .unwrap_or(1)
        })
        .sum()
}

#[test]
fn every_row_has_as_many_cells_as_the_header() {
    for admin in [false, true] {
        let opts = PageOptions {
            uri: "/s".into(),
            admin,
            ..PageOptions::default()
        };
        let page = render_page(&info(), &sample_proxies(), &opts, &PageRequest::default());
        let want = 31 + usize::from(admin);
        let rows: Vec<&str> = page
            .split("<tr class=\"")
            .skip(1)
            .filter(|r| !r.starts_with("titre"))
            .map(|r| r.split("</tr>").next().unwrap_or(""))
            .collect();
        assert!(rows.len() >= 4, "{}", rows.len());
        for r in rows {
            // The admin column only exists in the backend's table.
            let expected = if admin && r.starts_with("frontend") {
                31
            } else {
                want
            };
            assert_eq!(cells(r), expected, "admin={admin}: {r}");
        }
    }
}
