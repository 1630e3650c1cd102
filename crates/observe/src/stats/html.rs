//! The HTML stats page: HAProxy's layout (one table per proxy with queue,
//! session rate, sessions, bytes, denied, errors, warnings and server
//! columns), its colours and legends, refresh, and the admin form.

use super::admin::{AdminOutcome, ADMIN_ACTIONS};
use super::{FrontendStats, ProcessInfo, ProxyStats, ServerStats, ServerStatus};
use std::fmt::Write;

/// `stats …` settings that shape the page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageOptions {
    /// `stats uri`, used for the links (`;csv`, `;up`…).
    pub uri: String,
    /// `stats refresh`, seconds.
    pub refresh: Option<u32>,
    pub hide_version: bool,
    /// `stats show-node [NAME]`.
    pub show_node: Option<String>,
    /// `stats show-desc [TEXT]`.
    pub show_desc: Option<String>,
    pub show_legends: bool,
    /// `stats admin if COND` held for this request.
    pub admin: bool,
    /// `stats scope`: proxies shown (all when empty).
    pub scope: Vec<String>,
}

/// What the request's URI suffix asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageFormat {
    #[default]
    Html,
    Csv,
    Json,
}

/// `;csv`, `;json`, `;norefresh`, `;up`, `;st=XXX` after the stats URI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub format: PageFormat,
    pub norefresh: bool,
    /// Hide servers that are down.
    pub up_only: bool,
    /// The outcome of the last admin action, shown once.
    pub status: Option<AdminOutcome>,
}

impl PageRequest {
    /// Parses what follows the stats URI, e.g. `;csv;norefresh`.
    pub fn parse(suffix: &str) -> PageRequest {
        let mut r = PageRequest::default();
        for part in suffix.split([';', '?', '&']) {
            match part {
                "csv" => r.format = PageFormat::Csv,
                "json" => r.format = PageFormat::Json,
                "norefresh" => r.norefresh = true,
                "up" => r.up_only = true,
                p => {
                    if let Some(code) = p.strip_prefix("st=") {
                        r.status = AdminOutcome::from_code(code);
                    }
                }
            }
        }
        r
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `1d2h`, `3h4m`, `5m6s`, `7s`: HAProxy's short durations.
pub fn human_time(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

const CSS: &str = "body {font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}
th,td {font-size: 10px;}
h1 {font-size: x-large; margin-bottom: 0.5em;}
h2 {font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
h3 {font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
table.tbl {border-collapse: collapse; border-style: none;}
table.tbl td {text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl td.ac {text-align: center;}
table.tbl th {border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname {background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty {border-style: none; empty-cells: hide; background: white;}
table.tbl th.desc {background: white; border-style: solid solid none solid; text-align: left; padding: 2px 3px;}
table.lgd {border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}
table.lgd td {border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}
table.lgd td.noborder {border-style: none; padding: 2px; white-space: nowrap;}
.hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}
.titre {background: #20D0D0; color: #000000; font-weight: bold; text-align: center;}
.total {background: #20D0D0; color: #ffff80;}
.frontend {background: #e8e8d0;}
.socket {background: #d0d0d0;}
.backend {background: #e8e8d0;}
.active_down {background: #ff9090;}
.active_going_up {background: #ffd020;}
.active_going_down {background: #ffffa0;}
.active_up {background: #c0ffc0;}
.active_nolb {background: #20a0ff;}
.active_draining {background: #20a0FF;}
.active_no_check {background: #e0e0e0;}
.backup_down {background: #ff9090;}
.backup_going_up {background: #ff80ff;}
.backup_going_down {background: #c060ff;}
.backup_up {background: #b0d0ff;}
.backup_nolb {background: #90b0e0;}
.backup_draining {background: #cc9900;}
.backup_no_check {background: #e0e0e0;}
.maintain {background: #c07820;}
.rls {letter-spacing: 0.2em; margin-right: 1px;}
a.px:link {color: #ffff40; text-decoration: none;}
a.px:visited {color: #ffff40; text-decoration: none;}
a.px:hover {color: #ffffff; text-decoration: none;}
a.lfsb:link {color: #000000; text-decoration: none;}
a.lfsb:visited {color: #000000; text-decoration: none;}
a.lfsb:hover {color: #505050; text-decoration: none;}
";

/// The CSS class HAProxy gives a server row.
pub fn server_class(sv: &ServerStats) -> &'static str {
    let (up, down, going_up, going_down, nolb, drain, nocheck) = if sv.backup {
        (
            "backup_up",
            "backup_down",
            "backup_going_up",
            "backup_going_down",
            "backup_nolb",
            "backup_draining",
            "backup_no_check",
        )
    } else {
        (
            "active_up",
            "active_down",
            "active_going_up",
            "active_going_down",
            "active_nolb",
            "active_draining",
            "active_no_check",
        )
    };
    match sv.status {
        // Up without weight takes no traffic: shown as draining, as HAProxy does.
        ServerStatus::Up if sv.weight == 0 => drain,
        ServerStatus::Up => up,
        ServerStatus::Down => down,
        ServerStatus::GoingUp { .. } => going_up,
        ServerStatus::GoingDown { .. } => going_down,
        ServerStatus::NoLb | ServerStatus::NoLbGoingDown { .. } => nolb,
        ServerStatus::Drain => drain,
        ServerStatus::NoCheck => nocheck,
        ServerStatus::Maint | ServerStatus::MaintVia => "maintain",
    }
}

/// The response for a stats page request: content type and body, in the
/// format the URI suffix asked for (`;csv`, `;json` or HTML).
pub fn render_response(
    info: &ProcessInfo,
    proxies: &[ProxyStats],
    opts: &PageOptions,
    req: &PageRequest,
) -> (&'static str, String) {
    let scoped: Vec<ProxyStats> = proxies
        .iter()
        .filter(|p| opts.scope.is_empty() || opts.scope.contains(&p.name))
        .cloned()
        .collect();
    let filter = super::StatFilter {
        show_legends: opts.show_legends,
        ..super::StatFilter::default()
    };
    match req.format {
        PageFormat::Csv => {
            let mut body = String::new();
            super::csv::write_csv(&scoped, &filter, info.process_num, &mut body);
            ("text/plain", body)
        }
        PageFormat::Json => {
            let mut body = String::new();
            super::csv::write_json(&scoped, &filter, info.process_num, &mut body);
            ("application/json", body)
        }
        PageFormat::Html => ("text/html", render_page(info, proxies, opts, req)),
    }
}

/// Renders the whole page.
pub fn render_page(
    info: &ProcessInfo,
    proxies: &[ProxyStats],
    opts: &PageOptions,
    req: &PageRequest,
) -> String {
    let mut o = String::with_capacity(16 * 1024);
    o.push_str("<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n\"http://www.w3.org/TR/html4/loose.dtd\">\n<html><head><title>Statistics Report for HAProxy");
    if let Some(node) = &opts.show_node {
        let _ = write!(o, " on {}", esc(node));
    }
    o.push_str(
        "</title>\n<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n",
    );
    if let (Some(r), false) = (opts.refresh, req.norefresh) {
        let _ = writeln!(o, "<meta http-equiv=\"refresh\" content=\"{r}\">");
    }
    let _ = write!(
        o,
        "<style type=\"text/css\"><!--\n{CSS}-->\n</style></head>\n<body>"
    );
    if opts.hide_version {
        o.push_str("<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy</a></h1>\n");
    } else {
        let _ = writeln!(
            o,
            "<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">{} version {}, released {}</a></h1>",
            esc(&info.name),
            esc(&info.version),
            esc(&info.release_date)
        );
    }
    let _ = write!(o, "<h2>Statistics Report for pid {}", info.pid);
    if let Some(node) = &opts.show_node {
        let _ = write!(o, " on {}", esc(node));
    }
    if let Some(desc) = &opts.show_desc {
        let _ = write!(o, ": {}", esc(desc));
    }
    o.push_str("</h2>\n");
    general_info(&mut o, info, opts, req);
    for px in proxies {
        if !opts.scope.is_empty() && !opts.scope.contains(&px.name) {
            continue;
        }
        proxy_table(&mut o, px, opts, req);
    }
    o.push_str("</body>\n</html>\n");
    o
}

fn general_info(o: &mut String, info: &ProcessInfo, opts: &PageOptions, req: &PageRequest) {
    o.push_str("<hr width=\"100%\" class=\"hr\">\n<h3>&gt; General process information</h3>\n");
    let _ = writeln!(
        o,
        "<table border=0><tr><td align=\"left\" nowrap width=\"1%\">\n<p><b>pid = </b> {} (process #{}, nbproc = 1, nbthread = {})<br>\n<b>uptime = </b> {}<br>\n<b>system limits:</b> memmax = {}; ulimit-n = {}<br>\n<b>maxsock = </b> {}; <b>maxconn = </b> {}; <b>maxpipes = </b> 0<br>\ncurrent conns = {}; current pipes = 0/0; conn rate = {}/sec; bit rate = {} kbps<br>\nRunning tasks: {}/{}; idle = {} %<br>\n</td><td align=\"center\" nowrap>",
        info.pid,
        info.process_num,
        info.nbthread,
        super::uptime_text(info.uptime),
        if info.memmax_mb == 0 { "unlimited".to_string() } else { format!("{}MB", info.memmax_mb) },
        info.ulimit_n,
        info.maxsock,
        info.maxconn,
        info.curr_conns,
        info.conn_rate,
        info.bytes_out_rate * 8 / 1000,
        info.run_queue,
        info.tasks,
        info.idle_pct
    );
    o.push_str("<table class=\"lgd\"><tr>\n<td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td><td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr>\n<tr>\n<td class=\"active_going_down\"></td><td class=\"noborder\">active UP, going down </td><td class=\"backup_going_down\"></td><td class=\"noborder\">backup UP, going down </td></tr>\n<tr>\n<td class=\"active_going_up\"></td><td class=\"noborder\">active DOWN, going up </td><td class=\"backup_going_up\"></td><td class=\"noborder\">backup DOWN, going up </td></tr>\n<tr>\n<td class=\"active_down\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td><td class=\"active_no_check\"></td><td class=\"noborder\">not checked </td></tr>\n<tr>\n<td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr>\n<tr>\n<td class=\"active_draining\"></td><td class=\"noborder\" colspan=\"3\">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr>\n</table>\nNote: \"NOLB\"/\"DRAIN\" = UP with load-balancing disabled.</td>\n");
    let uri = esc(&opts.uri);
    let refresh = if req.norefresh { ";norefresh" } else { "" };
    o.push_str("<td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>Display option:</b><ul style=\"margin-top: 0.25em;\">");
    if req.up_only {
        let _ = writeln!(o, "<li><a href=\"{uri}{refresh}\">Show all servers</a><br>");
    } else {
        let _ = writeln!(
            o,
            "<li><a href=\"{uri};up{refresh}\">Hide 'DOWN' servers</a><br>"
        );
    }
    if opts.refresh.is_some() {
        if req.norefresh {
            let _ = writeln!(o, "<li><a href=\"{uri}\">Enable refresh</a><br>");
        } else {
            let _ = writeln!(o, "<li><a href=\"{uri};norefresh\">Disable refresh</a><br>");
        }
    }
    let _ = write!(
        o,
        "<li><a href=\"{uri}{refresh}\">Refresh now</a><br>\n<li><a href=\"{uri};csv\">CSV export</a><br>\n<li><a href=\"{uri};json\">JSON export</a> (<a href=\"{uri};json-schema\">schema</a>)<br>\n</ul></td>"
    );
    o.push_str("<td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>External resources:</b><ul style=\"margin-top: 0.25em;\">\n<li><a href=\"http://www.haproxy.org/\">Primary site</a><br>\n<li><a href=\"http://www.haproxy.org/download/\">Updates (v2.6)</a><br>\n<li><a href=\"http://www.haproxy.org/download/2.6/doc/configuration.txt\">Online manual</a><br>\n</ul></td></tr></table>\n");
    if let Some(st) = req.status {
        let _ = writeln!(
            o,
            "<p><div class={}>{} <a class=lfsb href=\"{uri}{refresh}\" title=\"Remove this message\">[X]</a></div>",
            if st.is_success() { "active_up" } else { "active_down" },
            esc(st.message())
        );
    }
    o.push_str("<p>\n");
}

const TABLE_HEAD: &str = "<tr class=\"titre\"><th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>\n";

fn proxy_table(o: &mut String, px: &ProxyStats, opts: &PageOptions, req: &PageRequest) {
    let name = esc(&px.name);
    let admin = opts.admin && px.backend.is_some();
    if admin {
        let _ = write!(o, "<form method=\"post\">");
    }
    let _ = writeln!(
        o,
        "<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\"><a name=\"{name}\"></a><a class=px href=\"#{name}\">{name}</a></th><th class=\"empty\" width=\"90%\"></th></tr>\n</table>\n<table class=\"tbl\" width=\"100%\">"
    );
    if admin {
        // The admin form's checkbox column, whose header box checks them all.
        let all = format!(
            "<th rowspan=2 width=1><input type=\"checkbox\" onclick=\"var b=document.getElementsByClassName('{name}-checkbox');for(var i=0;i<b.length;i++)b[i].checked=this.checked\"></th><th rowspan=2></th>"
        );
        o.push_str(&TABLE_HEAD.replacen("<th rowspan=2></th>", &all, 1));
    } else {
        o.push_str(TABLE_HEAD);
    }
    if let Some(fe) = &px.frontend {
        frontend_row(o, px, fe, admin);
    }
    if let Some(be) = &px.backend {
        for sv in &px.servers {
            if req.up_only && !sv.status.is_usable() {
                continue;
            }
            server_row(o, px, sv, admin);
        }
        let t = &be.traffic;
        let _ = writeln!(
            o,
            "<tr class=\"backend\">{}<td class=ac><a name=\"{name}/Backend\"></a><a class=lfsb href=\"#{name}/Backend\">Backend</a></td><td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=ac>{} {}</td><td class=ac>&nbsp;</td><td class=ac>{}</td><td class=ac>{}</td><td class=ac>{}</td><td class=ac>&nbsp;</td><td>{}</td><td>{}</td><td></td></tr>",
            if admin { "<td></td>" } else { "" },
            t.qcur, t.qmax, t.rate, t.rate_max, t.scur, t.smax, be.slim, t.stot, be.lbtot,
            t.lastsess.map_or(String::new(), human_time),
            t.bin, t.bout, t.dreq, t.dresp, t.econ, t.eresp, t.wretr, t.wredis,
            human_time(be.lastchg), if be.up { "UP" } else { "DOWN" },
            be.weight, be.act, be.bck, be.chkdown, be.downtime.map_or(String::new(), human_time)
        );
    }
    o.push_str("</table>");
    if admin {
        let _ = write!(
            o,
            "<div class=\"{name}\">Choose the action to perform on the checked servers : <select name=action onchange=\"this.form.submit();\"><option value=\"\"></option>"
        );
        for (value, label) in ADMIN_ACTIONS {
            let _ = write!(o, "<option value=\"{value}\">{label}</option>");
        }
        let _ = write!(
            o,
            "</select><input type=\"hidden\" name=\"b\" value=\"#{}\">&nbsp;<input type=\"submit\" value=\"Apply\"></div></form>",
            px.iid
        );
    }
    o.push_str("<p>\n");
}

fn frontend_row(o: &mut String, px: &ProxyStats, fe: &FrontendStats, admin: bool) {
    let t = &fe.traffic;
    let name = esc(&px.name);
    let _ = writeln!(
        o,
        "<tr class=\"frontend\">{}<td class=ac><a name=\"{name}/Frontend\"></a><a class=lfsb href=\"#{name}/Frontend\">Frontend</a></td><td colspan=3></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td></td><td></td><td class=ac>{}</td><td class=ac colspan=8></td></tr>",
        if admin { "<td></td>" } else { "" },
        t.rate,
        t.rate_max,
        fe.rate_lim.map_or("-".to_string(), |v| v.to_string()),
        t.scur,
        t.smax,
        fe.slim,
        t.stot,
        t.bin,
        t.bout,
        t.dreq,
        t.dresp,
        t.ereq,
        fe.status.as_str()
    );
}

fn server_row(o: &mut String, px: &ProxyStats, sv: &ServerStats, admin: bool) {
    let t = &sv.traffic;
    let pxn = esc(&px.name);
    let n = esc(&sv.name);
    let check = sv
        .check
        .as_ref()
        .map(|c| {
            let code = c.code.map_or(String::new(), |c| format!("/{c}"));
            let dur = c
                .duration_ms
                .map_or(String::new(), |d| format!(" in {d}ms"));
            format!("{}{code}{dur}", esc(&c.status))
        })
        .unwrap_or_default();
    let lastchg = if sv.check.is_some()
        || matches!(sv.status, ServerStatus::Maint | ServerStatus::MaintVia)
    {
        format!("{} ", human_time(sv.lastchg))
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "<tr class=\"{}\">{}<td class=ac><a name=\"{pxn}/{n}\"></a><a class=lfsb href=\"#{pxn}/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td>{}</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=ac>{}{}</td><td class=ac>{}</td><td class=ac>{}/{}</td><td class=ac>{}</td><td class=ac>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=ac>{}</td></tr>",
        server_class(sv),
        if admin { format!("<td><input class='{pxn}-checkbox' type=\"checkbox\" name=\"s\" value=\"{n}\"></td>") } else { String::new() },
        t.qcur,
        t.qmax,
        sv.qlimit.map_or("-".to_string(), |v| v.to_string()),
        t.rate,
        t.rate_max,
        t.scur,
        t.smax,
        sv.slim.map_or("-".to_string(), |v| v.to_string()),
        t.stot,
        sv.lbtot,
        t.lastsess.map_or("never".to_string(), human_time),
        t.bin,
        t.bout,
        t.dresp,
        t.econ,
        t.eresp,
        t.wretr,
        t.wredis,
        lastchg,
        esc(&sv.status.as_string()),
        check,
        sv.weight,
        sv.uweight,
        if sv.backup { "-" } else { "Y" },
        if sv.backup { "Y" } else { "-" },
        if sv.check.is_some() { sv.chkfail.to_string() } else { String::new() },
        if sv.check.is_some() { sv.chkdown.to_string() } else { String::new() },
        if sv.check.is_some() { human_time(sv.downtime) } else { String::new() },
        sv.throttle.map_or("-".to_string(), |v| format!("{v} %"))
    );
}
