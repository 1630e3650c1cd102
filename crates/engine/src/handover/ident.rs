//! Which `bind` an inherited socket serves, decided as HAProxy does: by the
//! address the socket is bound to (read from the socket), the interface and
//! namespace names that came with it, and the options fixed when it was created
//! (transparent/freebind, v6only, datagram), read from the socket too.

use super::wire::Meta;
use crate::runtime::{Bind, BindAddr};
use crate::unix::UnixAddr;
use socket2::{SockRef, Type};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

/// Options compared as HAProxy's SOCK_XFER_OPT_* are.
const FOREIGN: u8 = 1;
const V6ONLY: u8 = 2;
const DGRAM: u8 = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Addr {
    Inet(SocketAddr),
    /// A filesystem path, as bound (maybe the temporary `<path>.<pid>.tmp`).
    Path(Vec<u8>),
    /// An abstract name, trailing NULs cut (HAProxy binds the full-length name).
    Abstract(Vec<u8>),
}

/// One socket received from the old process, not claimed yet.
pub(super) struct Offer {
    addr: Addr,
    namespace: Option<String>,
    interface: Option<String>,
    opts: u8,
    pub(super) fd: OwnedFd,
}

impl std::fmt::Debug for Offer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} fd {}", self.addr, self.fd.as_raw_fd())
    }
}

impl Offer {
    /// Reads what `fd` is bound to; `None` (and `fd` closed) when it says nothing.
    pub(super) fn new(meta: Meta, fd: OwnedFd) -> Option<Offer> {
        let s = SockRef::from(&fd);
        let local = s.local_addr().ok()?;
        let addr = if let Some(a) = local.as_socket() {
            Addr::Inet(a)
        } else if let Some(p) = local.as_pathname() {
            Addr::Path(p.as_os_str().as_bytes().to_vec())
        } else if let Some(n) = local.as_abstract_namespace() {
            Addr::Abstract(trim_nuls(n).to_vec())
        } else {
            return None;
        };
        let mut opts = 0;
        if let Addr::Inet(a) = addr {
            if foreign(&fd, a.is_ipv6()) {
                opts |= FOREIGN;
            }
            if a.is_ipv6() && s.only_v6().unwrap_or(false) {
                opts |= V6ONLY;
            }
        }
        if s.r#type().is_ok_and(|t| t == Type::DGRAM) {
            opts |= DGRAM;
        }
        Some(Offer {
            addr,
            namespace: meta.namespace,
            interface: meta.interface,
            opts,
            fd,
        })
    }

    /// Whether this socket serves `bind` (never for `fd@` binds).
    pub(super) fn serves(&self, bind: &Bind) -> bool {
        let (want, opts) = match &bind.addr {
            BindAddr::Fd(_) => return false,
            BindAddr::Socket(a) => {
                // v6only is stronger than v4v6; neither: the system's default.
                let v6only = a.is_ipv6() && (bind.v6only || (v6only_default() && !bind.v4v6));
                (Addr::Inet(*a), if v6only { V6ONLY } else { 0 })
            }
            BindAddr::Unix(UnixAddr::Path(p)) => (Addr::Path(p.as_os_str().as_bytes().to_vec()), 0),
            BindAddr::Unix(UnixAddr::Abstract(n)) => (Addr::Abstract(trim_nuls(n).to_vec()), 0),
        };
        // Fulcrum binds no transparent, datagram or namespaced socket.
        self.opts == opts
            && self.namespace.is_none()
            && self.interface == bind.interface
            && same_addr(&self.addr, &want)
    }
}

fn trim_nuls(n: &[u8]) -> &[u8] {
    let end = n.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &n[..end]
}

fn same_addr(a: &Addr, b: &Addr) -> bool {
    match (a, b) {
        // Address and port: a wildcard bind matches only a wildcard socket.
        (Addr::Inet(a), Addr::Inet(b)) => a.ip() == b.ip() && a.port() == b.port(),
        (Addr::Path(a), Addr::Path(b)) => same_path(a, b),
        (Addr::Abstract(a), Addr::Abstract(b)) => a == b,
        _ => false,
    }
}

/// A UNIX socket is bound to `<path>.<pid>.tmp` and then renamed to `<path>`
/// (HAProxy and Fulcrum alike), and keeps the temporary name as its address:
/// that suffix is ignored on either side.
fn same_path(a: &[u8], b: &[u8]) -> bool {
    fn base(p: &[u8]) -> &[u8] {
        let Some(stem) = p.strip_suffix(b".tmp") else {
            return p;
        };
        let digits = stem.iter().rev().take_while(|c| c.is_ascii_digit()).count();
        match stem[..stem.len() - digits].strip_suffix(b".") {
            Some(path) if digits > 0 => path,
            _ => p,
        }
    }
    a == b || base(a) == base(b)
}

/// Whether the socket may bind foreign addresses (`transparent`), as HAProxy
/// reads it: IP(V6)_TRANSPARENT or IP_FREEBIND set.
fn foreign(fd: &OwnedFd, v6: bool) -> bool {
    let on = |level, name| {
        let mut val: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: reads one int option into a buffer of the stated length.
        let r = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&mut val as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        r == 0 && val != 0
    };
    let transparent = if v6 {
        on(libc::SOL_IPV6, libc::IPV6_TRANSPARENT)
    } else {
        on(libc::SOL_IP, libc::IP_TRANSPARENT)
    };
    transparent || on(libc::SOL_IP, libc::IP_FREEBIND)
}

/// The system's IPV6_V6ONLY default (`net.ipv6.bindv6only`), read once from a
/// fresh socket as HAProxy does at start.
fn v6only_default() -> bool {
    static DEFAULT: OnceLock<bool> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        socket2::Socket::new(socket2::Domain::IPV6, Type::STREAM, None)
            .and_then(|s| s.only_v6())
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(l: impl Into<OwnedFd>, interface: Option<&str>) -> Offer {
        let meta = Meta {
            namespace: None,
            interface: interface.map(str::to_owned),
        };
        Offer::new(meta, l.into()).unwrap()
    }

    #[test]
    fn temporary_unix_names_match_their_path() {
        assert!(same_path(b"/run/a.sock", b"/run/a.sock"));
        assert!(same_path(b"/run/a.sock.1234.tmp", b"/run/a.sock"));
        assert!(same_path(b"/run/a.sock", b"/run/a.sock.99.tmp"));
        assert!(same_path(b"/run/a.sock.1.tmp", b"/run/a.sock.2.tmp"));
        assert!(!same_path(b"/run/a.sock.tmp", b"/run/a.sock"));
        assert!(!same_path(b"/run/a.sock.x1.tmp", b"/run/a.sock"));
        assert!(!same_path(b"/run/b.sock.1.tmp", b"/run/a.sock"));
        assert_eq!(trim_nuls(b"name\0\0\0"), b"name");
    }

    #[test]
    fn tcp_sockets_match_by_address_and_interface() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let o = offer(l, None);
        let mut b = Bind::new(a);
        assert!(o.serves(&b));
        b.interface = Some("lo".into());
        assert!(!o.serves(&b), "an interface the socket was not sent with");
        let mut other = a;
        other.set_port(a.port().wrapping_add(1));
        assert!(!o.serves(&Bind::new(other)));
        assert!(!o.serves(&Bind::new(([0, 0, 0, 0], a.port()).into())));
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let o = offer(l, Some("lo"));
        let mut b = Bind::new(a);
        assert!(!o.serves(&b));
        b.interface = Some("lo".into());
        assert!(o.serves(&b));
    }

    #[test]
    fn a_foreign_socket_serves_no_bind() {
        // `transparent` binds (IP_FREEBIND/IP_TRANSPARENT) are HAProxy's, not ours.
        let s = socket2::Socket::new(socket2::Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_freebind(true).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        s.listen(1).unwrap();
        let a = s.local_addr().unwrap().as_socket().unwrap();
        assert!(!offer(s, None).serves(&Bind::new(a)));
    }

    #[test]
    fn v6only_must_agree() {
        let Ok(s) = socket2::Socket::new(socket2::Domain::IPV6, Type::STREAM, None) else {
            return; // no IPv6 here
        };
        s.set_only_v6(true).unwrap();
        if s.bind(&"[::1]:0".parse::<SocketAddr>().unwrap().into())
            .is_err()
        {
            return;
        }
        s.listen(1).unwrap();
        let a = s.local_addr().unwrap().as_socket().unwrap();
        let o = offer(s, None);
        let mut b = Bind::new(a);
        b.v6only = true;
        assert!(o.serves(&b));
        b.v6only = false;
        b.v4v6 = true;
        assert!(!o.serves(&b));
    }

    #[test]
    fn unix_sockets_match_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fe.sock");
        let l = crate::unix::bind(&UnixAddr::Path(path.clone()), Default::default(), 8).unwrap();
        let o = offer(l, None);
        let mut b = Bind::new("127.0.0.1:1".parse().unwrap());
        b.addr = BindAddr::Unix(UnixAddr::Path(path));
        assert!(o.serves(&b));
        b.addr = BindAddr::Unix(UnixAddr::Path(dir.path().join("other.sock")));
        assert!(!o.serves(&b));
        b.addr = BindAddr::Fd(3);
        assert!(!o.serves(&b));
    }
}
