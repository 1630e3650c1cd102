//! Log lines in HAProxy's words. Each function returns the text without the
//! final newline; HAProxy ends every one with a period.

use crate::state::Health;
use crate::status::Outcome;

/// Syslog severity HAProxy uses for each line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Emerg = 0,
    Alert = 1,
    Notice = 5,
    Info = 6,
}

impl Severity {
    /// The syslog severity number (0 emerg … 7 debug).
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Servers left in a backend and the moved server's traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: u32,
    pub backup: u32,
    pub sessions: u32,
    pub requeued: u32,
    pub queued: u32,
}

/// Who a line is about.
#[derive(Clone, Copy, Debug)]
pub struct Who<'a> {
    pub backend: &'a str,
    pub server: &'a str,
    pub backup: bool,
}

/// `, reason: …, code: N, info: "…", check duration: Nms`.
pub fn reason(o: &Outcome, duration_ms: Option<u64>) -> String {
    let mut s = format!(", reason: {}", o.status.description());
    if o.status.has_code() {
        s.push_str(&format!(", code: {}", o.code.unwrap_or(0)));
    }
    if !o.info.is_empty() {
        s.push_str(&format!(", info: \"{}\"", ascii_encode(&o.info)));
    }
    if let Some(d) = duration_ms {
        s.push_str(&format!(", check duration: {d}ms"));
    }
    s
}

/// Non-printable bytes and `"` as `<XX>`, as HAProxy's `chunk_asciiencode`.
fn ascii_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'"' {
            out.push(b as char);
        } else {
            out.push_str(&format!("<{b:02X}>"));
        }
    }
    out
}

fn tail(down: bool, c: &Counts) -> String {
    let on_backup = if c.backup > 0 && c.active == 0 {
        " Running on backup."
    } else {
        ""
    };
    if down {
        format!(
            ". {} active and {} backup servers left.{on_backup} {} sessions active, {} requeued, {} remaining in queue",
            c.active, c.backup, c.sessions, c.requeued, c.queued
        )
    } else {
        format!(
            ". {} active and {} backup servers online.{on_backup} {} sessions requeued, {} total in queue",
            c.active, c.backup, c.requeued, c.queued
        )
    }
}

fn server_prefix(w: &Who) -> String {
    let b = if w.backup { "Backup " } else { "" };
    format!("{b}Server {}/{}", w.backend, w.server)
}

/// `Server bk/srv is DOWN, reason: …. 1 active and 0 backup servers left. …`;
/// `cause` is the check's reason part, or ` via bk/srv` when tracking.
pub fn down(w: &Who, cause: &str, c: &Counts) -> String {
    format!("{} is DOWN{cause}{}.", server_prefix(w), tail(true, c))
}

/// `Server bk/srv is UP, reason: …. 2 active and 0 backup servers online. …`.
pub fn up(w: &Who, cause: &str, c: &Counts) -> String {
    format!("{} is UP{cause}{}.", server_prefix(w), tail(false, c))
}

/// `Server bk/srv is stopping, …` (`disable-on-404` answered 404).
pub fn stopping(w: &Who, cause: &str, c: &Counts) -> String {
    format!("{} is stopping{cause}{}.", server_prefix(w), tail(false, c))
}

/// The runtime API put the server in maintenance.
pub fn maint_enter(w: &Who, c: &Counts) -> String {
    format!(
        "{} is going DOWN for maintenance{}.",
        server_prefix(w),
        tail(true, c)
    )
}

/// The runtime API took the server out of maintenance.
pub fn maint_leave(w: &Who, up: bool, c: &Counts) -> String {
    let st = if up { "UP" } else { "DOWN" };
    format!(
        "{} is {st} (leaving forced maintenance){}.",
        server_prefix(w),
        tail(!up, c)
    )
}

/// The server entered drain mode.
pub fn drain_enter(w: &Who, c: &Counts) -> String {
    format!("{} enters drain state{}.", server_prefix(w), tail(false, c))
}

/// `backend bk has no server available!` (`proxy` for a `listen` section).
pub fn no_server(backend: &str, is_listen: bool) -> String {
    let kind = if is_listen { "proxy" } else { "backend" };
    format!("{kind} {backend} has no server available!")
}

/// `option log-health-checks`: `Health check for server bk/srv failed, …,
/// status: 0/2 DOWN.`
pub fn check_result(
    w: &Who,
    agent: bool,
    o: &Outcome,
    duration_ms: Option<u64>,
    h: &Health,
    drain: bool,
) -> String {
    let what = if agent { "Agent" } else { "Health" };
    let b = if w.backup { "backup " } else { "" };
    let verdict = o.status.verdict();
    let cond = if verdict == crate::status::Verdict::CondPassed {
        "conditionally "
    } else {
        ""
    };
    let res = if verdict == crate::status::Verdict::Failed {
        "failed"
    } else {
        "succeeded"
    };
    let (n, m) = h.progress();
    let st = match (h.is_up(), drain) {
        (false, _) => "DOWN",
        (true, true) => "DRAIN",
        (true, false) => "UP",
    };
    format!(
        "{what} check for {b}server {}/{} {cond}{res}{}, status: {n}/{m} {st}.",
        w.backend,
        w.server,
        reason(o, duration_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{CheckStatus, Verdict};
    use fulcrum_config::model::check::InitState;
    use std::time::Instant;

    const WHO: Who = Who {
        backend: "bk_web",
        server: "websrv1",
        backup: false,
    };

    #[test]
    fn down_line_reads_like_haproxy() {
        let o = Outcome::with_info(CheckStatus::L4Con, "Connection refused");
        let c = Counts {
            active: 1,
            ..Counts::default()
        };
        assert_eq!(
            down(&WHO, &reason(&o, Some(0)), &c),
            "Server bk_web/websrv1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
    }

    #[test]
    fn up_line_has_code_and_backup_notes() {
        let o = Outcome::with_info(CheckStatus::L7Ok, "OK").code(200);
        let c = Counts {
            active: 0,
            backup: 1,
            ..Counts::default()
        };
        let who = Who {
            backup: true,
            ..WHO
        };
        assert_eq!(
            up(&who, &reason(&o, Some(3)), &c),
            "Backup Server bk_web/websrv1 is UP, reason: Layer7 check passed, code: 200, info: \"OK\", check duration: 3ms. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            no_server("bk_web", false),
            "backend bk_web has no server available!"
        );
    }

    #[test]
    fn health_check_line_shows_progress() {
        let mut h = Health::new(2, 3, InitState::FullyUp);
        h.record(Verdict::Failed, Instant::now());
        let o = Outcome::with_info(CheckStatus::L7Sts, "Internal \"Server\" Error").code(500);
        assert_eq!(
            check_result(&WHO, false, &o, Some(1), &h, false),
            "Health check for server bk_web/websrv1 failed, reason: Layer7 wrong status, code: 500, info: \"Internal <22>Server<22> Error\", check duration: 1ms, status: 2/3 UP."
        );
    }
}
