//! `show sess`, `show sess <id>` and `show sess all` in HAProxy 2.6's layouts.
//! Fields Fulcrum knows are real: id, protocol, addresses (both ends of the
//! client connection, read from its socket), frontend, listener, backend and
//! server with their numbers and modes, age, accept date, the client
//! descriptor. Stream internals Fulcrum does not have (buffer and analyser
//! flags, task calls, timers) print as an idle HAProxy stream shows them.

use super::sess::parse_id;
use crate::health_link::Core;
use crate::runtime::Mode;
use crate::sessions::Entry;
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

const NOT_FOUND: &str = "Session not found.\n";

/// HAProxy's `human_time`: at most two units, `0s` for zero (`1m5s`, `2h`, `3d4h`).
pub(super) fn human_time(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    let mut left = 2;
    for (v, unit) in [(d, 'd'), (h, 'h'), (m, 'm')] {
        if left > 0 && v > 0 {
            let _ = write!(out, "{v}{unit}");
            left -= 1;
        }
    }
    if (left > 0 && s > 0) || secs == 0 {
        let _ = write!(out, "{s}s");
    }
    out
}

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
    }
}

fn proto(a: &SocketAddr) -> &'static str {
    if crate::unix::is_unix(a) {
        "unix_stream"
    } else if a.is_ipv6() {
        "tcpv6"
    } else {
        "tcpv4"
    }
}

/// The local and peer addresses of a live socket.
fn sock_addrs(fd: i32) -> (Option<SocketAddr>, Option<SocketAddr>) {
    if fd < 0 {
        return (None, None);
    }
    // SAFETY: the descriptor is only borrowed for getsockname()/getpeername();
    // it belongs to a live session (if that session just ended, the calls fail
    // or describe whatever socket took the number: a display glitch, nothing more).
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let s = socket2::SockRef::from(&fd);
    let get = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
    (get(s.local_addr()), get(s.peer_addr()))
}

/// `21/Nov/2026:08:32:52.830613`, local time.
fn accept_date(age: Duration) -> String {
    let t = SystemTime::now()
        .checked_sub(age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let tm = fulcrum_observe::time::local(t);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:06}",
        tm.day,
        tm.month_name(),
        tm.year,
        tm.hour,
        tm.min,
        tm.sec,
        tm.micros
    )
}

/// What `show sess` prints about one session's proxies.
struct Names<'a> {
    fe: &'a str,
    fe_mode: Mode,
    /// Backend and server chosen, with their numbers.
    be: Option<(&'a str, u32, Mode)>,
    srv: Option<(String, u32, SocketAddr)>,
}

impl Core {
    fn names(&self, e: &Entry) -> Names<'_> {
        if e.frontend == crate::sessions::CLI {
            return Names {
                fe: "GLOBAL",
                fe_mode: Mode::Tcp,
                be: None,
                srv: None,
            };
        }
        let fe = self.rt.frontends.get(e.frontend);
        let (b, s) = e.target();
        let be = b.and_then(|b| self.rt.backends.get(b));
        let srv = be.zip(s).and_then(|(be, s)| be.servers.get(s));
        let iid = |n: &str| self.iids.get(n).copied().unwrap_or(0);
        Names {
            fe: fe.map_or("<NONE>", |f| f.name.as_str()),
            fe_mode: fe.map_or(Mode::Tcp, |f| f.mode),
            be: be.map(|b| (b.name.as_str(), iid(&b.name), b.mode)),
            srv: srv.map(|s| (s.name.to_string(), s.state.id(), s.addr())),
        }
    }

    /// The one-line form.
    fn sess_line(&self, e: &Entry, out: &mut String) {
        let n = self.names(e);
        let (_, fd) = e.conn();
        // Until a backend is chosen HAProxy's stream backend is its frontend;
        // the CLI's has none, its back side being the CLI applet.
        let cli = e.frontend == crate::sessions::CLI;
        let be = n.be.map_or(if cli { "<NONE>" } else { n.fe }, |b| b.0);
        let sfd = e.server_fd();
        let scb = if sfd >= 0 || cli { 8 } else { 0 };
        let _ = writeln!(
            out,
            "0x{:x}: proto={} src={} fe={} be={be} srv={} ts=00 epoch=0 age={} calls=1 \
             rate=0 cpu=0 lat=0 rq[f=000000h,i=0,an=00h,rx=,wx=,ax=] \
             rp[f=000000h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd={fd}] scb=[{scb},1h,fd={sfd}] \
             exp= rc=0 c_exp=",
            e.id,
            proto(&e.src),
            crate::unix::peer_text(&e.src),
            n.fe,
            n.srv.as_ref().map_or("<none>", |s| s.0.as_str()),
            human_time(e.started.elapsed().as_secs()),
        );
    }

    /// The detailed form (`show sess <id>`, `show sess all`).
    fn sess_detail(&self, e: &Entry, out: &mut String) {
        let n = self.names(e);
        let (bind, fd) = e.conn();
        let age = e.started.elapsed();
        let fe_iid = self.iids.get(n.fe).copied().unwrap_or(0);
        let listener = self
            .rt
            .frontends
            .get(e.frontend)
            .and_then(|f| f.binds.get(bind))
            .and_then(|b| b.name.as_deref())
            .unwrap_or("?");
        let cli = e.frontend == crate::sessions::CLI;
        let _ = writeln!(
            out,
            "0x{:x}: [{}] id={} proto={} source={}",
            e.id,
            accept_date(age),
            e.id.saturating_sub(0x1000) / 0x10,
            proto(&e.src),
            crate::unix::peer_text(&e.src)
        );
        let srv_conn = if n.srv.is_some() {
            format!("0x{:x}", e.id + 8)
        } else {
            "(nil)".into()
        };
        let _ = writeln!(
            out,
            "  flags=0x0, conn_retries=0, conn_exp=<NEVER> conn_et=0x000 srv_conn={srv_conn}, \
             pend_pos=(nil) waiting=0 epoch=0"
        );
        let _ = write!(
            out,
            "  frontend={} (id={fe_iid} mode={}), listener={listener} (id={})",
            n.fe,
            mode_str(n.fe_mode),
            bind + 1
        );
        match sock_addrs(fd).0 {
            Some(a) => {
                let _ = writeln!(out, " addr={a}");
            }
            None if cli => {
                let _ = writeln!(out, " addr={}", crate::unix::peer_text(&e.src));
            }
            None => out.push('\n'),
        }
        let sfd = e.server_fd();
        let (s_local, s_peer) = sock_addrs(sfd);
        let _ = match n.be {
            Some((name, id, m)) => write!(out, "  backend={name} (id={id} mode={})", mode_str(m)),
            None => write!(out, "  backend=<NONE> (id=-1 mode=-)"),
        };
        let _ = match s_local {
            Some(a) => writeln!(out, " addr={a}"),
            None => writeln!(out),
        };
        let _ = match (n.be, &n.srv) {
            (_, Some((name, id, addr))) => {
                writeln!(
                    out,
                    "  server={name} (id={id}) addr={}",
                    s_peer.unwrap_or(*addr)
                )
            }
            (Some(_), None) => writeln!(out, "  server=<none> (id=0)"),
            (None, None) => writeln!(out, "  server=<NONE> (id=-1)"),
        };
        let _ = writeln!(
            out,
            "  task=0x{:x} (state=0x00 nice=0 calls=1 rate=0 exp=<NEVER> tmask=0x1 age={})",
            e.id + 4,
            human_time(age.as_secs())
        );
        let mux = match n.fe_mode {
            Mode::Http => "H1",
            Mode::Tcp => "PASS",
        };
        let _ = writeln!(
            out,
            "  scf=0x{:x} flags=0x00000000 state=EST endp=CONN,0x{:x},0x00000001 sub=0\n      \
             co0=0x{:x} ctrl={} xprt=RAW mux={mux} data=STRM target=LISTENER:0x{:x}\n      \
             flags=0x00000300 fd={fd} fd.state=00 updt=0 fd.tmask=0x1",
            e.id + 1,
            e.id + 2,
            e.id + 3,
            proto(&e.src),
            e.frontend
        );
        if cli {
            let _ = writeln!(
                out,
                "  scb=0x{:x} flags=0x00000001 state=EST endp=APPCTX,0x{:x},0x02800002 sub=0\n      \
                 app1=0x{:x} st0=9 st1=0 st2=0 applet=<CLI> tmask=0x1 nice=-64 calls=1 rate=0 \
                 cpu=0 lat=0",
                e.id + 5,
                e.id + 6,
                e.id + 6
            );
        } else if sfd < 0 {
            let _ = writeln!(
                out,
                "  scb=0x{:x} flags=0x00000001 state=INI endp=CONN,(nil),0x00000000 sub=0",
                e.id + 5
            );
        } else {
            let _ = writeln!(
                out,
                "  scb=0x{:x} flags=0x00000001 state=EST endp=CONN,0x{:x},0x00000001 sub=0\n      \
                 co1=0x{:x} ctrl={} xprt=RAW mux={mux} data=STRM target=SERVER:0x{:x}\n      \
                 flags=0x10000300 fd={sfd} fd.state=00 updt=0 fd.tmask=0x1",
                e.id + 5,
                e.id + 6,
                e.id + 7,
                s_peer.map_or("tcpv4", |a| proto(&a)),
                e.id + 8
            );
        }
    }

    /// `show sess [all|<id>]`. An id HAProxy cannot read counts as none (the
    /// list), as its `strtoul` does.
    pub(crate) fn sess_show(&self, target: Option<&str>) -> Result<String, String> {
        let all = self.sessions.snapshot();
        let mut out = String::new();
        match target {
            Some("all") => all.iter().for_each(|e| {
                self.sess_detail(e, &mut out);
                out.push('\n');
            }),
            Some(t) if parse_id(t).is_some_and(|id| id != 0) => {
                let id = parse_id(t).unwrap_or(0);
                let e = all
                    .iter()
                    .find(|e| e.id == id)
                    .ok_or_else(|| NOT_FOUND.to_string())?;
                self.sess_detail(e, &mut out);
            }
            _ => all.iter().for_each(|e| self.sess_line(e, &mut out)),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::human_time;

    #[test]
    fn ages_print_as_haproxy_s_human_time() {
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(7), "7s");
        assert_eq!(human_time(65), "1m5s");
        assert_eq!(human_time(3600), "1h");
        assert_eq!(human_time(3661), "1h1m");
        assert_eq!(human_time(90_061), "1d1h");
        assert_eq!(human_time(86_460), "1d1m");
    }
}
