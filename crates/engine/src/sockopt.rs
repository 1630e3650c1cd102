//! Socket options HAProxy derives from proxy options and `bind` settings:
//! - client side (frontend): `option nolinger` (RST on close), `option
//!   clitcpka`/`tcpka` with `clitcpka-idle/-intvl/-cnt` (SO_KEEPALIVE…);
//! - server side (backend): `option nolinger`, `option srvtcpka`/`tcpka` with
//!   `srvtcpka-*`, `option tcp-smart-connect` (TCP_QUICKACK off before
//!   connecting, so the handshake's last ACK leaves with the first data);
//! - listeners: `option tcp-smart-accept` (TCP_QUICKACK off: the request is
//!   acknowledged by the response; on by default in HTTP mode), `bind
//!   defer-accept` (TCP_DEFER_ACCEPT, one second), `mss` (TCP_MAXSEG, a
//!   negative value is taken off the default MSS), `tfo` (TCP_FASTOPEN with
//!   the backlog as queue length).
//!
//! Failures are ignored as HAProxy ignores them: an option the kernel refuses
//! must not stop traffic.

use crate::runtime::{Bind, KeepAlive, TcpOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

fn set_int(fd: RawFd, level: i32, opt: i32, val: i32) -> io::Result<()> {
    // SAFETY: `val` outlives the call and its size is passed; `fd` is a socket
    // the caller holds open.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&val as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn get_int(fd: RawFd, level: i32, opt: i32) -> io::Result<i32> {
    let mut val: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: `val` and `len` are valid for writes and `len` holds val's size.
    let r = unsafe { libc::getsockopt(fd, level, opt, (&mut val as *mut i32).cast(), &mut len) };
    if r == 0 {
        Ok(val)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn secs(d: Duration) -> i32 {
    // TCP keep-alive timers are whole seconds, at least one.
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

fn keepalive(fd: RawFd, ka: &KeepAlive) {
    let _ = set_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    if let Some(d) = ka.idle {
        let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs(d));
    }
    if let Some(d) = ka.intvl {
        let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs(d));
    }
    if let Some(n) = ka.cnt {
        let _ = set_int(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            i32::try_from(n).unwrap_or(i32::MAX),
        );
    }
}

fn nolinger(fd: RawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `l` outlives the call and its size is passed.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A client connection just accepted by a frontend with options `o`.
pub(crate) fn client_accepted(s: &impl AsRawFd, o: &TcpOptions) {
    let fd = s.as_raw_fd();
    if o.nolinger {
        nolinger(fd);
    }
    if let Some(ka) = &o.keepalive {
        keepalive(fd, ka);
    }
}

/// A server connection just established for a backend with options `o`.
pub(crate) fn server_connected(s: &impl AsRawFd, o: &TcpOptions) {
    let fd = s.as_raw_fd();
    if o.nolinger {
        nolinger(fd);
    }
    if let Some(ka) = &o.keepalive {
        keepalive(fd, ka);
    }
}

/// A server socket about to connect (`option tcp-smart-connect`).
pub(crate) fn before_connect(s: &impl AsRawFd, o: &TcpOptions) {
    if o.smart_connect {
        let _ = set_int(s.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_QUICKACK, 0);
    }
}

/// A listening socket, once `listen` is done (it resets the ACK mode).
pub(crate) fn listening(s: &impl AsRawFd, bind: &Bind) {
    let fd = s.as_raw_fd();
    if bind.defer_accept {
        // As HAProxy: defer the accept by up to one second.
        let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 1);
    }
    if bind.smart_accept {
        let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK, 0);
    }
}

/// A listening socket, bound and before `listen` (the MSS and Fast Open
/// queue are taken then).
pub(crate) fn listener(s: &impl AsRawFd, bind: &Bind, backlog: u32) {
    let fd = s.as_raw_fd();
    match bind.mss {
        Some(m) if m > 0 => {
            let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG, m);
        }
        Some(m) if m < 0 => {
            if let Ok(cur) = get_int(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG) {
                let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG, (cur + m).max(88));
            }
        }
        _ => {}
    }
    if bind.tfo {
        let qlen = i32::try_from(backlog).unwrap_or(i32::MAX);
        let _ = set_int(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, qlen);
    }
}
