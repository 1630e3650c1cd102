//! Prometheus text exposition with HAProxy's metric names
//! (`haproxy_process_*`, `haproxy_frontend_*`, `haproxy_backend_*`,
//! `haproxy_server_*`), plus latency histograms per backend and server.

use super::{
    BackendStats, FrontendStats, Histogram, ProcessInfo, ProxyStats, ServerStats, ServerStatus,
    Timings,
};
use std::fmt::Write;

type Getter<T> = fn(&T) -> f64;

struct Metric<T> {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    get: Getter<T>,
}

const fn m<T>(
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    get: Getter<T>,
) -> Metric<T> {
    Metric {
        name,
        kind,
        help,
        get,
    }
}

fn label_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn process_metrics() -> Vec<Metric<ProcessInfo>> {
    vec![
        m("haproxy_process_nbthread", "gauge", "Number of started threads (global.nbthread)", |p| f64::from(p.nbthread)),
        m("haproxy_process_nbproc", "gauge", "Number of started worker processes (historical, always 1)", |_| 1.0),
        m("haproxy_process_relative_process_id", "gauge", "Relative worker process number (1)", |p| f64::from(p.process_num)),
        m("haproxy_process_uptime_seconds", "gauge", "How long ago this worker process was started (seconds)", |p| p.uptime.as_secs() as f64),
        m("haproxy_process_start_time_seconds", "gauge", "Start time in seconds", |p| p.start_time_sec as f64),
        m("haproxy_process_max_connections", "gauge", "Maximum number of concurrent connections (global.maxconn)", |p| p.maxconn as f64),
        m("haproxy_process_hard_max_connections", "gauge", "Initial Maximum number of concurrent connections (global.maxconn)", |p| p.hard_maxconn as f64),
        m("haproxy_process_current_connections", "gauge", "Current number of connections on this worker process", |p| p.curr_conns as f64),
        m("haproxy_process_connections_total", "counter", "Total number of connections on this worker process since started", |p| p.cum_conns as f64),
        m("haproxy_process_requests_total", "counter", "Total number of requests on this worker process since started", |p| p.cum_req as f64),
        m("haproxy_process_current_connection_rate", "gauge", "Number of front connections created on this worker process over the last second", |p| p.conn_rate as f64),
        m("haproxy_process_limit_connection_rate", "gauge", "Hard limit for ConnRate (global.maxconnrate)", |p| p.conn_rate_limit as f64),
        m("haproxy_process_max_connection_rate", "gauge", "Highest ConnRate reached on this worker process since started (in connections per second)", |p| p.max_conn_rate as f64),
        m("haproxy_process_current_session_rate", "gauge", "Number of sessions created on this worker process over the last second", |p| p.sess_rate as f64),
        m("haproxy_process_max_session_rate", "gauge", "Highest SessRate reached on this worker process since started (in sessions per second)", |p| p.max_sess_rate as f64),
        m("haproxy_process_current_tasks", "gauge", "Total number of tasks in the current worker process (active + sleeping)", |p| p.tasks as f64),
        m("haproxy_process_current_run_queue", "gauge", "Total number of active tasks+tasklets in the current worker process", |p| p.run_queue as f64),
        m("haproxy_process_idle_time_percent", "gauge", "Percentage of last second spent waiting in the current worker thread", |p| p.idle_pct as f64),
        m("haproxy_process_stopping", "gauge", "1 if the worker process is currently stopping, otherwise zero", |p| f64::from(u8::from(p.stopping))),
        m("haproxy_process_jobs", "gauge", "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)", |p| p.jobs as f64),
        m("haproxy_process_listeners", "gauge", "Current number of active listeners on the current worker process", |p| p.listeners as f64),
        m("haproxy_process_dropped_logs_total", "counter", "Total number of dropped logs for current worker process since started", |p| p.dropped_logs as f64),
        m("haproxy_process_bytes_out_total", "counter", "Total number of bytes emitted by current worker process since started", |p| p.total_bytes_out as f64),
        m("haproxy_process_bytes_out_rate", "gauge", "Number of bytes emitted by current worker process over the last second", |p| p.bytes_out_rate as f64),
    ]
}

fn frontend_metrics() -> Vec<Metric<FrontendStats>> {
    vec![
        m("haproxy_frontend_status", "gauge", "Current status of the service (frontend: 0=STOP, 1=UP, 2=FULL)", |f| match f.status {
            super::FrontendStatus::Stop => 0.0,
            super::FrontendStatus::Open => 1.0,
            super::FrontendStatus::Full => 2.0,
        }),
        m("haproxy_frontend_current_sessions", "gauge", "Number of current sessions on the frontend, backend or server", |f| f64::from(f.traffic.scur)),
        m("haproxy_frontend_max_sessions", "gauge", "Highest value of current sessions encountered since process started", |f| f64::from(f.traffic.smax)),
        m("haproxy_frontend_limit_sessions", "gauge", "Frontend/listener/server's maxconn, backend's fullconn", |f| f64::from(f.slim)),
        m("haproxy_frontend_sessions_total", "counter", "Total number of sessions since process started", |f| f.traffic.stot as f64),
        m("haproxy_frontend_limit_session_rate", "gauge", "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)", |f| f64::from(f.rate_lim.unwrap_or(0))),
        m("haproxy_frontend_max_session_rate", "gauge", "Highest value of sessions per second observed since the worker process started", |f| f64::from(f.traffic.rate_max)),
        m("haproxy_frontend_connections_rate_max", "gauge", "Highest value of connections per second observed since the worker process started", |f| f64::from(f.traffic.conn_rate_max)),
        m("haproxy_frontend_connections_total", "counter", "Total number of new connections accepted on this frontend since the worker process started", |f| f.traffic.conn_tot as f64),
        m("haproxy_frontend_bytes_in_total", "counter", "Total number of request bytes since process started", |f| f.traffic.bin as f64),
        m("haproxy_frontend_bytes_out_total", "counter", "Total number of response bytes since process started", |f| f.traffic.bout as f64),
        m("haproxy_frontend_requests_denied_total", "counter", "Total number of denied requests since process started", |f| f.traffic.dreq as f64),
        m("haproxy_frontend_responses_denied_total", "counter", "Total number of denied responses since process started", |f| f.traffic.dresp as f64),
        m("haproxy_frontend_request_errors_total", "counter", "Total number of invalid requests since process started", |f| f.traffic.ereq as f64),
        m("haproxy_frontend_denied_connections_total", "counter", "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started", |f| f.traffic.dcon as f64),
        m("haproxy_frontend_denied_sessions_total", "counter", "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started", |f| f.traffic.dses as f64),
        m("haproxy_frontend_failed_header_rewriting_total", "counter", "Total number of failed HTTP header rewrites since the worker process started", |f| f.traffic.wrew as f64),
        m("haproxy_frontend_internal_errors_total", "counter", "Total number of internal errors since process started", |f| f.traffic.eint as f64),
        m("haproxy_frontend_http_requests_rate_max", "gauge", "Highest value of http requests observed since the worker process started", |f| f64::from(f.traffic.req_rate_max)),
        m("haproxy_frontend_http_requests_total", "counter", "Total number of HTTP requests processed by this object since the worker process started", |f| f.traffic.req_tot as f64),
        m("haproxy_frontend_intercepted_requests_total", "counter", "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started", |f| f.traffic.intercepted as f64),
    ]
}

macro_rules! be_sv_metrics {
    ($ty:ty, $p:literal) => {
        vec![
            m(concat!($p, "current_queue"), "gauge", "Number of current queued connections", |x: &$ty| f64::from(x.traffic.qcur)),
            m(concat!($p, "max_queue"), "gauge", "Highest value of queued connections encountered since process started", |x: &$ty| f64::from(x.traffic.qmax)),
            m(concat!($p, "current_sessions"), "gauge", "Number of current sessions on the frontend, backend or server", |x: &$ty| f64::from(x.traffic.scur)),
            m(concat!($p, "max_sessions"), "gauge", "Highest value of current sessions encountered since process started", |x: &$ty| f64::from(x.traffic.smax)),
            m(concat!($p, "sessions_total"), "counter", "Total number of sessions since process started", |x: &$ty| x.traffic.stot as f64),
            m(concat!($p, "max_session_rate"), "gauge", "Highest value of sessions per second observed since the worker process started", |x: &$ty| f64::from(x.traffic.rate_max)),
            m(concat!($p, "last_session_seconds"), "gauge", "How long ago some traffic was seen on this object on this worker process, in seconds", |x: &$ty| x.traffic.lastsess.map_or(-1.0, |s| s as f64)),
            m(concat!($p, "queue_time_average_seconds"), "gauge", "Time spent in the queue, in seconds, averaged over the 1024 last requests (backend/server)", |x: &$ty| f64::from(x.traffic.qtime) / 1000.0),
            m(concat!($p, "connect_time_average_seconds"), "gauge", "Time spent waiting for a connection to complete, in seconds, averaged over the 1024 last requests (backend/server)", |x: &$ty| f64::from(x.traffic.ctime) / 1000.0),
            m(concat!($p, "response_time_average_seconds"), "gauge", "Time spent waiting for a server response, in seconds, averaged over the 1024 last requests (backend/server)", |x: &$ty| f64::from(x.traffic.rtime) / 1000.0),
            m(concat!($p, "total_time_average_seconds"), "gauge", "Total time to complete a request, in seconds, averaged over the 1024 last requests (backend/server)", |x: &$ty| f64::from(x.traffic.ttime) / 1000.0),
            m(concat!($p, "max_queue_time_seconds"), "gauge", "Maximum observed time spent in the queue, in seconds (backend/server)", |x: &$ty| f64::from(x.traffic.qtime_max) / 1000.0),
            m(concat!($p, "max_connect_time_seconds"), "gauge", "Maximum observed time spent waiting for a connection to complete, in seconds (backend/server)", |x: &$ty| f64::from(x.traffic.ctime_max) / 1000.0),
            m(concat!($p, "max_response_time_seconds"), "gauge", "Maximum observed time spent waiting for a server response, in seconds (backend/server)", |x: &$ty| f64::from(x.traffic.rtime_max) / 1000.0),
            m(concat!($p, "max_total_time_seconds"), "gauge", "Maximum observed total request+response time (request+queue+connect+response+processing), in seconds (backend/server)", |x: &$ty| f64::from(x.traffic.ttime_max) / 1000.0),
            m(concat!($p, "connection_attempts_total"), "counter", "Total number of outgoing connection attempts on this backend/server since the worker process started", |x: &$ty| x.traffic.connect as f64),
            m(concat!($p, "connection_reuses_total"), "counter", "Total number of reused connection on this backend/server since the worker process started", |x: &$ty| x.traffic.reuse as f64),
            m(concat!($p, "bytes_in_total"), "counter", "Total number of request bytes since process started", |x: &$ty| x.traffic.bin as f64),
            m(concat!($p, "bytes_out_total"), "counter", "Total number of response bytes since process started", |x: &$ty| x.traffic.bout as f64),
            m(concat!($p, "responses_denied_total"), "counter", "Total number of denied responses since process started", |x: &$ty| x.traffic.dresp as f64),
            m(concat!($p, "connection_errors_total"), "counter", "Total number of failed connections to server since the worker process started", |x: &$ty| x.traffic.econ as f64),
            m(concat!($p, "response_errors_total"), "counter", "Total number of invalid responses since the worker process started", |x: &$ty| x.traffic.eresp as f64),
            m(concat!($p, "retry_warnings_total"), "counter", "Total number of server connection retries since the worker process started", |x: &$ty| x.traffic.wretr as f64),
            m(concat!($p, "redispatch_warnings_total"), "counter", "Total number of server redispatches due to connection failures since the worker process started", |x: &$ty| x.traffic.wredis as f64),
            m(concat!($p, "failed_header_rewriting_total"), "counter", "Total number of failed HTTP header rewrites since the worker process started", |x: &$ty| x.traffic.wrew as f64),
            m(concat!($p, "internal_errors_total"), "counter", "Total number of internal errors since process started", |x: &$ty| x.traffic.eint as f64),
            m(concat!($p, "client_aborts_total"), "counter", "Total number of requests or connections aborted by the client since the worker process started", |x: &$ty| x.traffic.cli_abrt as f64),
            m(concat!($p, "server_aborts_total"), "counter", "Total number of requests or connections aborted by the server since the worker process started", |x: &$ty| x.traffic.srv_abrt as f64),
            m(concat!($p, "weight"), "gauge", "Server's effective weight, or sum of active servers' effective weights for a backend", |x: &$ty| f64::from(x.weight)),
            m(concat!($p, "uweight"), "gauge", "Server's user weight, or sum of active servers' user weights for a backend", |x: &$ty| f64::from(x.uweight)),
            m(concat!($p, "check_last_change_seconds"), "gauge", "How long ago the last server state changed, in seconds", |x: &$ty| x.lastchg as f64),
            m(concat!($p, "check_up_down_total"), "counter", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started", |x: &$ty| x.chkdown as f64),
            m(concat!($p, "loadbalanced_total"), "counter", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)", |x: &$ty| x.lbtot as f64),
        ]
    };
}

fn backend_metrics() -> Vec<Metric<BackendStats>> {
    let mut v = be_sv_metrics!(BackendStats, "haproxy_backend_");
    v.extend::<[Metric<BackendStats>; 7]>([
        m("haproxy_backend_limit_sessions", "gauge", "Frontend/listener/server's maxconn, backend's fullconn", |b| f64::from(b.slim)),
        m("haproxy_backend_active_servers", "gauge", "Total number of active UP servers with a non-zero weight", |b| f64::from(b.act)),
        m("haproxy_backend_backup_servers", "gauge", "Total number of backup UP servers with a non-zero weight", |b| f64::from(b.bck)),
        m("haproxy_backend_downtime_seconds_total", "counter", "Total time spent in DOWN state, for server or backend", |b| b.downtime.unwrap_or(0) as f64),
        m("haproxy_backend_requests_denied_total", "counter", "Total number of denied requests since process started", |b| b.traffic.dreq as f64),
        m("haproxy_backend_http_requests_total", "counter", "Total number of HTTP requests processed by this object since the worker process started", |b| b.traffic.req_tot as f64),
        m("haproxy_backend_agg_server_status", "gauge", "Backend's aggregated gauge of servers' status", |b| f64::from(u8::from(b.up))),
    ]);
    v
}

fn server_metrics() -> Vec<Metric<ServerStats>> {
    let mut v = be_sv_metrics!(ServerStats, "haproxy_server_");
    v.extend::<[Metric<ServerStats>; 9]>([
        m("haproxy_server_limit_sessions", "gauge", "Frontend/listener/server's maxconn, backend's fullconn", |s| f64::from(s.slim.unwrap_or(0))),
        m("haproxy_server_queue_limit", "gauge", "Limit on the number of connections in queue, for servers only (maxqueue argument)", |s| f64::from(s.qlimit.unwrap_or(0))),
        m("haproxy_server_current_throttle", "gauge", "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)", |s| f64::from(s.throttle.unwrap_or(100))),
        m("haproxy_server_downtime_seconds_total", "counter", "Total time spent in DOWN state, for server or backend", |s| s.downtime as f64),
        m("haproxy_server_check_failures_total", "counter", "Total number of failed individual health checks per server/backend, since the worker process started", |s| s.chkfail as f64),
        m("haproxy_server_check_duration_seconds", "gauge", "Total duration of the latest server health check, in seconds.", |s| s.check.as_ref().and_then(|c| c.duration_ms).unwrap_or(0) as f64 / 1000.0),
        m("haproxy_server_check_code", "gauge", "layer5-7 code, if available of the last health check.", |s| f64::from(s.check.as_ref().and_then(|c| c.code).unwrap_or(0))),
        m("haproxy_server_idle_connections_current", "gauge", "Current number of idle connections available for reuse on this server", |s| f64::from(s.srv_icur)),
        m("haproxy_server_used_connections_current", "gauge", "Current number of connections in use", |s| f64::from(s.used_conn_cur)),
    ]);
    v
}

/// HTTP status classes, as the `code` label says them.
const CODES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

const SERVER_STATES: &[&str] = &["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];

fn server_state_label(s: ServerStatus) -> &'static str {
    match s {
        ServerStatus::Up | ServerStatus::NoCheck | ServerStatus::GoingDown { .. } => "UP",
        ServerStatus::Down | ServerStatus::GoingUp { .. } => "DOWN",
        ServerStatus::Maint | ServerStatus::MaintVia => "MAINT",
        ServerStatus::Drain => "DRAIN",
        ServerStatus::NoLb | ServerStatus::NoLbGoingDown { .. } => "NOLB",
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn write_hist(o: &mut String, name: &str, labels: &str, h: &Histogram) {
    let cum = h.cumulative();
    for (i, bound) in h.bounds_ms.iter().enumerate() {
        let le = num(*bound as f64 / 1000.0);
        let _ = writeln!(
            o,
            "{name}_bucket{{{labels},le=\"{le}\"}} {}",
            cum.get(i).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(o, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count());
    let _ = writeln!(
        o,
        "{name}_sum{{{labels}}} {}",
        num(h.sum_ms as f64 / 1000.0)
    );
    let _ = writeln!(o, "{name}_count{{{labels}}} {}", h.count());
}

/// Which histogram of a [`Timings`] a family shows.
type Pick = fn(&Timings) -> &Histogram;

const HISTOGRAMS: &[(&str, &str, Pick)] = &[
    (
        "queue_time_seconds",
        "Time spent in queues, in seconds",
        |t| &t.queue,
    ),
    (
        "connect_time_seconds",
        "Time to establish the server connection, in seconds",
        |t| &t.connect,
    ),
    (
        "response_time_seconds",
        "Time to receive the server's response headers, in seconds",
        |t| &t.response,
    ),
    (
        "total_time_seconds",
        "Total session time, in seconds",
        |t| &t.total,
    ),
];

/// The whole `/metrics` page.
pub fn render(info: &ProcessInfo, proxies: &[ProxyStats]) -> String {
    let mut o = String::with_capacity(32 * 1024);
    let _ = writeln!(
        o,
        "# HELP haproxy_process_build_info Build info\n# TYPE haproxy_process_build_info gauge\nhaproxy_process_build_info{{version=\"{}\"}} 1",
        label_value(&info.version)
    );
    for met in process_metrics() {
        head(&mut o, met.name, met.kind, met.help);
        let _ = writeln!(o, "{} {}", met.name, num((met.get)(info)));
    }
    let fes: Vec<(&ProxyStats, &FrontendStats)> = proxies
        .iter()
        .filter_map(|p| p.frontend.as_ref().map(|f| (p, f)))
        .collect();
    for met in frontend_metrics() {
        if fes.is_empty() {
            break;
        }
        head(&mut o, met.name, met.kind, met.help);
        for (p, f) in &fes {
            let _ = writeln!(
                o,
                "{}{{proxy=\"{}\"}} {}",
                met.name,
                label_value(&p.name),
                num((met.get)(f))
            );
        }
    }
    if !fes.is_empty() {
        let name = "haproxy_frontend_http_responses_total";
        head(&mut o, name, "counter", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started");
        for (p, f) in &fes {
            for (i, code) in ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
                .iter()
                .enumerate()
            {
                let _ = writeln!(
                    o,
                    "{name}{{proxy=\"{}\",code=\"{code}\"}} {}",
                    label_value(&p.name),
                    f.traffic.hrsp[i]
                );
            }
        }
    }
    let bes: Vec<(&ProxyStats, &BackendStats)> = proxies
        .iter()
        .filter_map(|p| p.backend.as_ref().map(|b| (p, b)))
        .collect();
    for met in backend_metrics() {
        if bes.is_empty() {
            break;
        }
        head(&mut o, met.name, met.kind, met.help);
        for (p, b) in &bes {
            let _ = writeln!(
                o,
                "{}{{proxy=\"{}\"}} {}",
                met.name,
                label_value(&p.name),
                num((met.get)(b))
            );
        }
    }
    let svs: Vec<(&ProxyStats, &ServerStats)> = bes
        .iter()
        .flat_map(|(p, _)| p.servers.iter().map(move |s| (*p, s)))
        .collect();
    for met in server_metrics() {
        if svs.is_empty() {
            break;
        }
        head(&mut o, met.name, met.kind, met.help);
        for (p, s) in &svs {
            let _ = writeln!(
                o,
                "{}{{proxy=\"{}\",server=\"{}\"}} {}",
                met.name,
                label_value(&p.name),
                label_value(&s.name),
                num((met.get)(s))
            );
        }
    }
    if !svs.is_empty() {
        let name = "haproxy_server_status";
        head(
            &mut o,
            name,
            "gauge",
            "Current status of the service, per state label value.",
        );
        for (p, s) in &svs {
            let cur = server_state_label(s.status);
            for st in SERVER_STATES {
                let _ = writeln!(
                    o,
                    "{name}{{proxy=\"{}\",server=\"{}\",state=\"{st}\"}} {}",
                    label_value(&p.name),
                    label_value(&s.name),
                    u8::from(cur == *st)
                );
            }
        }
    }
    if !bes.is_empty() {
        let name = "haproxy_backend_status";
        head(
            &mut o,
            name,
            "gauge",
            "Current status of the service, per state label value.",
        );
        for (p, b) in &bes {
            for (st, on) in [("DOWN", !b.up), ("UP", b.up)] {
                let _ = writeln!(
                    o,
                    "{name}{{proxy=\"{}\",state=\"{st}\"}} {}",
                    label_value(&p.name),
                    u8::from(on)
                );
            }
        }
        let name = "haproxy_backend_http_responses_total";
        head(&mut o, name, "counter", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started");
        for (p, b) in bes.iter().filter(|(p, _)| p.mode == super::ProxyMode::Http) {
            for (i, code) in CODES.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "{name}{{proxy=\"{}\",code=\"{code}\"}} {}",
                    label_value(&p.name),
                    b.traffic.hrsp[i]
                );
            }
        }
    }
    if !svs.is_empty() {
        let name = "haproxy_server_http_responses_total";
        head(&mut o, name, "counter", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started");
        for (p, s) in svs.iter().filter(|(p, _)| p.mode == super::ProxyMode::Http) {
            for (i, code) in CODES.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "{name}{{proxy=\"{}\",server=\"{}\",code=\"{code}\"}} {}",
                    label_value(&p.name),
                    label_value(&s.name),
                    s.traffic.hrsp[i]
                );
            }
        }
    }
    for (suffix, help, pick) in HISTOGRAMS {
        let be_name = format!("haproxy_backend_{suffix}");
        let with: Vec<_> = bes
            .iter()
            .filter_map(|(p, b)| b.timings.as_ref().map(|t| (*p, t)))
            .collect();
        if !with.is_empty() {
            head(&mut o, &be_name, "histogram", help);
            for (p, t) in with {
                write_hist(
                    &mut o,
                    &be_name,
                    &format!("proxy=\"{}\"", label_value(&p.name)),
                    pick(t),
                );
            }
        }
        let sv_name = format!("haproxy_server_{suffix}");
        let with: Vec<_> = svs
            .iter()
            .filter_map(|(p, s)| s.timings.as_ref().map(|t| (*p, s, t)))
            .collect();
        if !with.is_empty() {
            head(&mut o, &sv_name, "histogram", help);
            for (p, s, t) in with {
                let labels = format!(
                    "proxy=\"{}\",server=\"{}\"",
                    label_value(&p.name),
                    label_value(&s.name)
                );
                write_hist(&mut o, &sv_name, &labels, pick(t));
            }
        }
    }
    o
}
