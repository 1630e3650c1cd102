//! Process-wide figures: `show info` and the `haproxy_process_*` metrics.

use std::fmt::Write;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessInfo {
    /// `Name:`; tools such as hatop only print it.
    pub name: String,
    pub version: String,
    pub release_date: String,
    pub nbthread: u32,
    /// 1 for a single process.
    pub process_num: u32,
    pub pid: u32,
    pub uptime: Duration,
    /// Unix time the process started.
    pub start_time_sec: u64,
    pub memmax_mb: u64,
    pub pool_alloc_bytes: u64,
    pub pool_used_bytes: u64,
    pub ulimit_n: u64,
    pub maxsock: u64,
    pub maxconn: u64,
    pub hard_maxconn: u64,
    pub curr_conns: u64,
    pub cum_conns: u64,
    pub cum_req: u64,
    pub conn_rate: u64,
    pub conn_rate_limit: u64,
    pub max_conn_rate: u64,
    pub sess_rate: u64,
    pub sess_rate_limit: u64,
    pub max_sess_rate: u64,
    /// `CompressBpsRateLim`: bytes per second (`maxcomprate` in kB/s × 1024).
    pub comp_rate_limit: u64,
    pub tasks: u64,
    pub run_queue: u64,
    pub idle_pct: u64,
    pub node: String,
    pub description: String,
    pub stopping: bool,
    pub jobs: u64,
    pub unstoppable_jobs: u64,
    pub listeners: u64,
    pub dropped_logs: u64,
    pub failed_resolutions: u64,
    pub total_bytes_out: u64,
    pub bytes_out_rate: u64,
    pub total_warnings: u64,
    pub maxconn_reached: u64,
    pub boot_time_ms: u64,
}

impl Default for ProcessInfo {
    fn default() -> Self {
        ProcessInfo {
            name: "Fulcrum".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            release_date: String::new(),
            nbthread: 1,
            process_num: 1,
            pid: std::process::id(),
            uptime: Duration::ZERO,
            start_time_sec: 0,
            memmax_mb: 0,
            pool_alloc_bytes: 0,
            pool_used_bytes: 0,
            ulimit_n: 0,
            maxsock: 0,
            maxconn: 0,
            hard_maxconn: 0,
            curr_conns: 0,
            cum_conns: 0,
            cum_req: 0,
            conn_rate: 0,
            conn_rate_limit: 0,
            max_conn_rate: 0,
            sess_rate: 0,
            sess_rate_limit: 0,
            max_sess_rate: 0,
            comp_rate_limit: 0,
            tasks: 0,
            run_queue: 0,
            idle_pct: 100,
            node: String::new(),
            description: String::new(),
            stopping: false,
            jobs: 0,
            unstoppable_jobs: 0,
            listeners: 0,
            dropped_logs: 0,
            failed_resolutions: 0,
            total_bytes_out: 0,
            bytes_out_rate: 0,
            total_warnings: 0,
            maxconn_reached: 0,
            boot_time_ms: 0,
        }
    }
}

/// `0d 0h01m23s`, HAProxy's uptime layout.
pub fn uptime_text(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}d {}h{:02}m{:02}s",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

impl ProcessInfo {
    /// `(name, value)` in `show info`'s order (HAProxy 2.6's field list).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let n = |v: u64| v.to_string();
        let mb = |b: u64| (b / (1024 * 1024)).to_string();
        let mut v = vec![
            ("Name", self.name.clone()),
            ("Version", self.version.clone()),
            ("Release_date", self.release_date.clone()),
            ("Nbthread", self.nbthread.to_string()),
            ("Nbproc", "1".into()),
            ("Process_num", self.process_num.to_string()),
            ("Pid", self.pid.to_string()),
            ("Uptime", uptime_text(self.uptime)),
            ("Uptime_sec", n(self.uptime.as_secs())),
            ("Memmax_MB", n(self.memmax_mb)),
            ("PoolAlloc_MB", mb(self.pool_alloc_bytes)),
            ("PoolUsed_MB", mb(self.pool_used_bytes)),
            ("PoolFailed", "0".into()),
            ("Ulimit-n", n(self.ulimit_n)),
            ("Maxsock", n(self.maxsock)),
            ("Maxconn", n(self.maxconn)),
            ("Hard_maxconn", n(self.hard_maxconn)),
            ("CurrConns", n(self.curr_conns)),
            ("CumConns", n(self.cum_conns)),
            ("CumReq", n(self.cum_req)),
            ("MaxSslConns", "0".into()),
            ("CurrSslConns", "0".into()),
            ("CumSslConns", "0".into()),
            ("Maxpipes", "0".into()),
            ("PipesUsed", "0".into()),
            ("PipesFree", "0".into()),
            ("ConnRate", n(self.conn_rate)),
            ("ConnRateLimit", n(self.conn_rate_limit)),
            ("MaxConnRate", n(self.max_conn_rate)),
            ("SessRate", n(self.sess_rate)),
            ("SessRateLimit", n(self.sess_rate_limit)),
            ("MaxSessRate", n(self.max_sess_rate)),
            ("SslRate", "0".into()),
            ("SslRateLimit", "0".into()),
            ("MaxSslRate", "0".into()),
            ("SslFrontendKeyRate", "0".into()),
            ("SslFrontendMaxKeyRate", "0".into()),
            ("SslFrontendSessionReuse_pct", "0".into()),
            ("SslBackendKeyRate", "0".into()),
            ("SslBackendMaxKeyRate", "0".into()),
            ("SslCacheLookups", "0".into()),
            ("SslCacheMisses", "0".into()),
            ("CompressBpsIn", "0".into()),
            ("CompressBpsOut", "0".into()),
            ("CompressBpsRateLim", n(self.comp_rate_limit)),
            ("ZlibMemUsage", "0".into()),
            ("MaxZlibMemUsage", "0".into()),
            ("Tasks", n(self.tasks)),
            ("Run_queue", n(self.run_queue)),
            ("Idle_pct", n(self.idle_pct)),
            ("node", self.node.clone()),
            ("description", self.description.clone()),
            ("Stopping", u64::from(self.stopping).to_string()),
            ("Jobs", n(self.jobs)),
            ("Unstoppable Jobs", n(self.unstoppable_jobs)),
            ("Listeners", n(self.listeners)),
            ("ActivePeers", "0".into()),
            ("ConnectedPeers", "0".into()),
            ("DroppedLogs", n(self.dropped_logs)),
            ("BusyPolling", "0".into()),
            ("FailedResolutions", n(self.failed_resolutions)),
            ("TotalBytesOut", n(self.total_bytes_out)),
            // HAProxy's own spelling, which scripts match.
            ("TotalSplicdedBytesOut", "0".into()),
            ("BytesOutRate", n(self.bytes_out_rate)),
            ("DebugCommandsIssued", "0".into()),
            ("CumRecvLogs", "0".into()),
            ("Build info", self.version.clone()),
            ("Memmax_bytes", n(self.memmax_mb * 1024 * 1024)),
            ("PoolAlloc_bytes", n(self.pool_alloc_bytes)),
            ("PoolUsed_bytes", n(self.pool_used_bytes)),
            ("Start_time_sec", n(self.start_time_sec)),
            ("Tainted", "0".into()),
            ("TotalWarnings", n(self.total_warnings)),
            ("MaxconnReached", n(self.maxconn_reached)),
            ("BootTime_ms", n(self.boot_time_ms)),
        ];
        // Like HAProxy, a field without a value (no `description`) is not printed.
        v.retain(|(k, val)| *k != "description" || !val.is_empty());
        v
    }

    /// `show info`: `Name: value` lines.
    pub fn write_text(&self, out: &mut String) {
        for (k, v) in self.fields() {
            let _ = writeln!(out, "{k}: {v}");
        }
    }

    /// `show info typed`: `0.Name.1:POS:str:HAProxy`.
    pub fn write_typed(&self, out: &mut String) {
        for (i, (k, v)) in self.fields().into_iter().enumerate() {
            let numeric = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
            let (tags, ty) = match (i, numeric) {
                (0..=2, _) => ("POS", "str"),
                (_, true) => ("MGP", "u64"),
                _ => ("SOS", "str"),
            };
            let _ = writeln!(out, "{i}.{k}.{}:{tags}:{ty}:{v}", self.process_num);
        }
    }
}
