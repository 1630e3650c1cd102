//! UNIX stream sockets for `bind` and `server`: paths (`/run/x.sock`,
//! `unix@x.sock`) and Linux abstract names (`abns@name`).
//!
//! A connected UNIX socket travels through the engine as a
//! `tokio::net::TcpStream` owning its descriptor: read, write, shutdown, peek,
//! linger and splice are the same syscalls for both families, so the TCP path
//! keeps its one concrete stream type and pays nothing for this. Only the
//! address getters would fail on such a stream, and the engine never calls
//! them on it: a UNIX end is represented by [`fulcrum_observe::log::unix_addr`]
//! wherever a `SocketAddr` is expected (logs print it as HAProxy does, fetches
//! such as `src` find no address, PROXY headers say UNKNOWN / LOCAL).

use socket2::{Domain, SockAddr, Socket, Type};
use std::ffi::CString;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use fulcrum_observe::log::is_unix;

/// Where a UNIX socket lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    Path(PathBuf),
    /// Linux abstract namespace (`abns@`): no file, gone with its last socket.
    Abstract(Vec<u8>),
}

impl std::fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "unix@{}", p.display()),
            UnixAddr::Abstract(n) => write!(f, "abns@{}", String::from_utf8_lossy(n)),
        }
    }
}

/// `sun_path`'s size on Linux: an abstract name takes all of it.
const ABSTRACT_LEN: usize = 108;

impl UnixAddr {
    /// The kernel's form of the address (health checks connect to it too).
    pub fn sockaddr(&self) -> io::Result<SockAddr> {
        match self {
            UnixAddr::Path(p) => SockAddr::unix(p),
            UnixAddr::Abstract(name) => {
                // A leading NUL is how the kernel tells an abstract name from a
                // path. HAProxy pads the name with NULs to the whole `sun_path`
                // (108 bytes; seen in /proc/net/unix as `@name@@@…`), and an
                // abstract name is all of its bytes: padded the same way, the
                // sockets of both reach each other.
                if name.len() >= ABSTRACT_LEN {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "abstract socket name too long",
                    ));
                }
                let mut raw = vec![0u8; ABSTRACT_LEN];
                raw[1..=name.len()].copy_from_slice(name);
                SockAddr::unix(std::ffi::OsStr::from_bytes(&raw))
            }
        }
    }
}

/// Permissions of a UNIX socket file (`bind … mode/uid/gid/user/group`,
/// defaulted by `global unix-bind`), resolved to numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnixPerms {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The address a client of UNIX listener `luid` (HAProxy's listener id, 1-based)
/// gets in the engine: logs print it as `unix:<luid>`.
pub(crate) fn client_addr(luid: usize) -> SocketAddr {
    fulcrum_observe::log::unix_addr(u16::try_from(luid).unwrap_or(u16::MAX))
}

/// The local end of a UNIX connection.
pub(crate) fn local_addr() -> SocketAddr {
    fulcrum_observe::log::unix_addr(0)
}

/// An address as sample fetches see it: a UNIX end has none (`src`, `dst`
/// find nothing, as in HAProxy).
pub(crate) fn inet(a: SocketAddr) -> Option<SocketAddr> {
    (!is_unix(&a)).then_some(a)
}

/// A client address as `show sess` prints it: `unix:<listener id>` for a UNIX client.
pub(crate) fn peer_text(a: &SocketAddr) -> String {
    if is_unix(a) {
        format!("unix:{}", a.port())
    } else {
        a.to_string()
    }
}

/// [`inet`] for a bare IP address.
pub(crate) fn inet_ip(ip: std::net::IpAddr) -> Option<std::net::IpAddr> {
    (ip != std::net::IpAddr::V6(fulcrum_observe::log::UNIX_IP)).then_some(ip)
}

/// The local address of a client accepted on `bind`: the bind's own when it
/// names one IP, the UNIX placeholder for a UNIX client, else the socket's.
pub(crate) fn local_of(
    client: &tokio::net::TcpStream,
    peer: &SocketAddr,
    bind: &crate::runtime::Bind,
) -> io::Result<SocketAddr> {
    if is_unix(peer) {
        Ok(local_addr())
    } else if let Some(a) = bind.local {
        Ok(a)
    } else {
        client.local_addr()
    }
}

/// Binds and listens. A path is bound under a temporary name next to it, given
/// its permissions, then renamed over the old socket file: a previous process
/// still serving the old file (a reload) keeps its socket until it exits, and
/// no client ever finds the path missing or with the wrong owner.
pub(crate) fn bind(addr: &UnixAddr, perms: UnixPerms, backlog: u32) -> io::Result<UnixListener> {
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    match addr {
        UnixAddr::Abstract(_) => sock.bind(&addr.sockaddr()?)?,
        UnixAddr::Path(path) => {
            // Only an old socket is replaced, never a file someone else owns.
            if let Ok(m) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if !m.file_type().is_socket() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "the path exists and is not a socket",
                    ));
                }
            }
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(format!(".{}.tmp", std::process::id()));
            let tmp = PathBuf::from(tmp);
            // A temporary left by a crashed run with our pid would make bind fail.
            let _ = std::fs::remove_file(&tmp);
            sock.bind(&UnixAddr::Path(tmp.clone()).sockaddr()?)?;
            let placed = set_perms(&tmp, perms).and_then(|()| std::fs::rename(&tmp, path));
            if let Err(e) = placed {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    sock.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    sock.set_nonblocking(true)?;
    Ok(UnixListener::from(OwnedFd::from(sock)))
}

fn set_perms(path: &std::path::Path, perms: UnixPerms) -> io::Result<()> {
    if perms.uid.is_some() || perms.gid.is_some() {
        std::os::unix::fs::chown(path, perms.uid, perms.gid)?;
    }
    if let Some(mode) = perms.mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// One non-blocking connect to a UNIX server. It completes at once or fails
/// (a full backlog is `EAGAIN`, counted as a failed attempt as for TCP).
pub(crate) fn connect(addr: &UnixAddr) -> io::Result<tokio::net::TcpStream> {
    fulcrum_health::runner::connect_unix(&addr.sockaddr()?)
}

/// An accepted or connected UNIX socket as the engine's stream type (see the module docs).
pub(crate) fn into_stream(fd: OwnedFd) -> io::Result<tokio::net::TcpStream> {
    tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd))
}

/// Accepts one client of a UNIX listener.
pub(crate) async fn accept(l: &tokio::net::UnixListener) -> io::Result<tokio::net::TcpStream> {
    let (s, _) = l.accept().await?;
    let s: UnixStream = s.into_std()?;
    into_stream(OwnedFd::from(s))
}

/// `bind … mode/uid/gid/user/group` as numbers; names must exist.
pub(crate) fn perms(b: &fulcrum_config::model::Bind) -> Result<UnixPerms, String> {
    Ok(UnixPerms {
        mode: b.mode,
        uid: id_or_name(b.uid, b.user.as_deref(), uid_of, "user")?,
        gid: id_or_name(b.gid, b.group.as_deref(), gid_of, "group")?,
    })
}

fn id_or_name(
    id: Option<u32>,
    name: Option<&str>,
    lookup: fn(&str) -> Option<u32>,
    what: &str,
) -> Result<Option<u32>, String> {
    match (id, name) {
        (Some(id), _) => Ok(Some(id)),
        (None, Some(n)) => lookup(n)
            .map(Some)
            .ok_or_else(|| format!("unknown {what} '{n}'")),
        (None, None) => Ok(None),
    }
}

/// `global unix-bind`: its prefix goes before every UNIX path of the frontend's
/// binds, and its permissions fill what the `bind` line left unset.
pub(crate) fn apply_unix_bind(
    fe: &mut crate::runtime::Frontend,
    u: &fulcrum_config::model::global::UnixBind,
) -> Result<(), String> {
    let defaults = UnixPerms {
        mode: u.mode,
        uid: id_or_name(u.uid, u.user.as_deref(), uid_of, "user")?,
        gid: id_or_name(u.gid, u.group.as_deref(), gid_of, "group")?,
    };
    for b in &mut fe.binds {
        let crate::runtime::BindAddr::Unix(a) = &mut b.addr else {
            continue;
        };
        if let (UnixAddr::Path(p), Some(prefix)) = (&mut *a, &u.prefix) {
            // HAProxy joins the two as written.
            let mut joined = std::ffi::OsString::from(prefix);
            joined.push(p.as_os_str());
            *p = joined.into();
        }
        let p = &mut b.unix_perms;
        p.mode = p.mode.or(defaults.mode);
        p.uid = p.uid.or(defaults.uid);
        p.gid = p.gid.or(defaults.gid);
    }
    Ok(())
}

/// A `server` address naming a UNIX socket.
pub(crate) fn server_unix(a: &fulcrum_config::model::Address) -> Option<Arc<UnixAddr>> {
    use fulcrum_config::model::Address;
    match a {
        Address::Unix(p) => Some(Arc::new(UnixAddr::Path(p.clone()))),
        Address::Abns(n) => Some(Arc::new(UnixAddr::Abstract(n.as_bytes().to_vec()))),
        _ => None,
    }
}

/// The placeholder address of a UNIX server: one per socket, so that idle
/// connection pools (keyed by address) never mix two servers.
pub(crate) fn server_placeholder(a: &fulcrum_config::model::Address) -> Option<SocketAddr> {
    static SEEN: Mutex<Vec<UnixAddr>> = Mutex::new(Vec::new());
    let u = server_unix(a)?;
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let i = match seen.iter().position(|s| *s == *u) {
        Some(i) => i,
        None => {
            seen.push((*u).clone());
            seen.len() - 1
        }
    };
    // Port 0 is never used, so a placeholder is never taken for "no address".
    Some(fulcrum_observe::log::unix_addr(
        u16::try_from(i + 1).unwrap_or(u16::MAX),
    ))
}

/// Looks a user name up in the system's user database.
pub fn uid_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or null, read at
    // once; it is only called at start-up, never by two threads at a time.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    // SAFETY: checked non-null, from getpwnam.
    (!pw.is_null()).then(|| unsafe { (*pw).pw_uid })
}

/// Looks a group name up in the system's group database.
pub fn gid_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: as in `uid_of`, for getgrnam.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    // SAFETY: checked non-null, from getgrnam.
    (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[tokio::test]
    async fn path_socket_replaces_the_old_file_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let old = bind(&UnixAddr::Path(path.clone()), UnixPerms::default(), 8).unwrap();
        let perms = UnixPerms {
            mode: Some(0o600),
            ..UnixPerms::default()
        };
        let new = bind(&UnixAddr::Path(path.clone()), perms, 8).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // Only the socket file remains: no temporary is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let file = dir.path().join("f");
        std::fs::write(&file, "data").unwrap();
        assert!(bind(&UnixAddr::Path(file.clone()), perms, 8).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");
        // New clients reach the new socket, not the old one.
        let new = tokio::net::UnixListener::from_std(new).unwrap();
        let _c = connect(&UnixAddr::Path(path.clone())).unwrap();
        let accepted = tokio::time::timeout(std::time::Duration::from_secs(5), accept(&new)).await;
        assert!(accepted.unwrap().is_ok());
        old.set_nonblocking(true).unwrap();
        assert!(old.accept().is_err(), "the old socket got the client");
    }

    #[tokio::test]
    async fn abstract_names_bind_and_connect() {
        let name = format!("fulcrum-test-{}", std::process::id()).into_bytes();
        let a = UnixAddr::Abstract(name);
        let l =
            tokio::net::UnixListener::from_std(bind(&a, UnixPerms::default(), 8).unwrap()).unwrap();
        assert!(bind(&a, UnixPerms::default(), 8).is_err(), "name taken");
        // The name is padded as HAProxy pads it: the bare name is another socket.
        let bare = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            format!("fulcrum-test-{}", std::process::id()).as_bytes(),
        )
        .unwrap();
        assert!(std::os::unix::net::UnixStream::connect_addr(&bare).is_err());
        let mut c = connect(&a).unwrap();
        let mut s = tokio::time::timeout(std::time::Duration::from_secs(5), accept(&l))
            .await
            .unwrap()
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        c.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b, b"ping");
        assert!(s.local_addr().is_err(), "a UNIX stream has no inet address");
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("no-such-user-here"), None);
    }
}
