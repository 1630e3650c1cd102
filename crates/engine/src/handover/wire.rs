//! HAProxy's `_getsocks` exchange on the stats socket, both sides.
//!
//! The new process sends `_getsocks\n`. The old one answers with the number of
//! sockets as a native-endian 32-bit integer, alone, then sends them in messages
//! of at most [`BATCH`] descriptors (SCM_RIGHTS). A message's bytes describe its
//! sockets in order, each as: namespace name length (one byte) and name,
//! interface name length (one byte) and name, four zero bytes (listener options
//! before HAProxy 2.3, ignored since). The receiver answers every message it
//! reads with a 32-bit acknowledgement; the sender waits for one after each full
//! batch. An old process that exposes nothing closes without a word.
//!
//! HAProxy's receiver keeps one socket per bind; Fulcrum's keeps every socket
//! (one per thread) and says so by asking [`REQUEST_ALL`]: a word after the
//! command, which HAProxy's command line ignores.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Descriptors per message: HAProxy's own limit (under the kernel's SCM_MAX_FD).
pub(super) const BATCH: usize = 252;

/// Most descriptors one message may bring (the kernel's SCM_MAX_FD).
const SCM_MAX_FD: usize = 253;

/// Most sockets a new process takes in one reload: a bound on a peer's claim.
pub(super) const MAX_FDS: usize = 1 << 16;

/// The request of a receiver that keeps every socket it is sent (HAProxy's
/// is plain `_getsocks\n`).
pub(super) const REQUEST_ALL: &[u8] = b"_getsocks all\n";

/// Longest description of one socket: two length bytes, two names, the options.
const MAX_META: usize = 1 + 255 + 1 + 255 + 4;

/// What the old process said about one socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Meta {
    pub namespace: Option<String>,
    pub interface: Option<String>,
}

/// Appends the description of one socket; names longer than a length byte
/// allows are cut, as HAProxy's own length byte would.
pub(super) fn put_meta(out: &mut Vec<u8>, namespace: Option<&str>, interface: Option<&str>) {
    for name in [namespace, interface] {
        let b = name.unwrap_or("").as_bytes();
        let b = &b[..b.len().min(255)];
        out.push(b.len() as u8);
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&[0; 4]);
}

/// The descriptions of `n` sockets, `None` while bytes are missing.
pub(super) fn parse_meta(bytes: &[u8], n: usize) -> Option<Vec<Meta>> {
    let mut at = 0;
    let name = |at: &mut usize| -> Option<Option<String>> {
        let len = usize::from(*bytes.get(*at)?);
        let b = bytes.get(*at + 1..*at + 1 + len)?;
        *at += 1 + len;
        Some((len > 0).then(|| String::from_utf8_lossy(b).into_owned()))
    };
    let mut out = Vec::with_capacity(n.min(BATCH));
    for _ in 0..n {
        let namespace = name(&mut at)?;
        let interface = name(&mut at)?;
        bytes.get(at..at + 4)?;
        at += 4;
        out.push(Meta {
            namespace,
            interface,
        });
    }
    Some(out)
}

/// Sends the whole answer for `socks` on `out`, waiting at most `patience` for
/// the peer each time; nothing at all when there is nothing to give.
pub(super) fn send_socks(
    out: RawFd,
    socks: &[(Option<String>, RawFd)],
    patience: Duration,
) -> io::Result<()> {
    if socks.is_empty() {
        return Ok(());
    }
    let n = i32::try_from(socks.len()).map_err(|_| io::Error::other("too many sockets"))?;
    send_all(out, &n.to_ne_bytes(), &[], patience)?;
    for chunk in socks.chunks(BATCH) {
        let mut meta = Vec::with_capacity(chunk.len() * 6);
        for (interface, _) in chunk {
            put_meta(&mut meta, None, interface.as_deref());
        }
        let fds: Vec<RawFd> = chunk.iter().map(|(_, fd)| *fd).collect();
        send_all(out, &meta, &fds, patience)?;
        if chunk.len() == BATCH {
            // The receiver makes room before the next batch.
            read_ack(out, patience)?;
        }
    }
    Ok(())
}

/// Waits for the receiver's 32-bit acknowledgement (its value says nothing).
fn read_ack(from: RawFd, patience: Duration) -> io::Result<()> {
    let mut ack = [0u8; 4];
    let mut have = 0;
    while have < ack.len() {
        wait(from, libc::POLLIN, patience)?;
        // SAFETY: reads at most the bytes left into a buffer we own.
        let got = unsafe { libc::recv(from, ack[have..].as_mut_ptr().cast(), ack.len() - have, 0) };
        match got {
            0 => return Err(io::Error::other("the new process stopped reading")),
            n if n > 0 => have += n as usize,
            _ => {
                let e = io::Error::last_os_error();
                if !matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Reads the whole answer on `from` (after the request was sent): each socket
/// with its description. Reads wait as `from`'s receive timeout says.
pub(super) fn recv_socks(from: RawFd) -> io::Result<Vec<(Meta, OwnedFd)>> {
    let mut head = [0u8; 4];
    let mut have = 0;
    let mut stray = Vec::new();
    while have < head.len() {
        match recv_msg(from, &mut head[have..], &mut stray) {
            Ok(0) => {
                return Err(io::Error::other(
                    "the old process sent no sockets (its stats socket needs \
                     'level admin expose-fd listeners', and it must still be listening)",
                ))
            }
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let n = i32::from_ne_bytes(head);
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_FDS && stray.is_empty())
        .ok_or_else(|| io::Error::other(format!("bad answer: {n} sockets")))?;
    let mut bytes = Vec::new();
    let mut fds = Vec::new();
    let mut buf = vec![0u8; BATCH * MAX_META];
    loop {
        if fds.len() > n {
            return Err(io::Error::other(format!(
                "more than the {n} sockets announced"
            )));
        }
        if fds.len() == n {
            if let Some(meta) = parse_meta(&bytes, n) {
                return Ok(meta.into_iter().zip(fds).collect());
            }
        }
        let before = i32::try_from(fds.len()).unwrap_or(i32::MAX);
        let got = match recv_msg(from, &mut buf, &mut fds) {
            Ok(0) => {
                return Err(io::Error::other(format!(
                    "the old process closed after {} of {n} sockets",
                    fds.len()
                )))
            }
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes.extend_from_slice(&buf[..got]);
        if bytes.len() > n * MAX_META {
            return Err(io::Error::other("socket descriptions too long"));
        }
        // Every message read is acknowledged, as HAProxy's receiver does; a
        // sender that has finished may be gone already, which is fine.
        let ack = before.to_ne_bytes();
        // SAFETY: sends 4 bytes from a buffer we own; MSG_NOSIGNAL: no SIGPIPE.
        unsafe { libc::send(from, ack.as_ptr().cast(), ack.len(), libc::MSG_NOSIGNAL) };
    }
}

/// Sends `data` with `fds` attached to its first byte.
fn send_all(out: RawFd, mut data: &[u8], mut fds: &[RawFd], patience: Duration) -> io::Result<()> {
    while !data.is_empty() {
        match send_msg(out, data, fds) {
            Ok(n) => {
                data = &data[n..];
                fds = &[];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(out, libc::POLLOUT, patience)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits until `fd` is ready for `events` (the stats connection is non-blocking).
fn wait(fd: RawFd, events: libc::c_short, patience: Duration) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = i32::try_from(patience.as_millis()).unwrap_or(i32::MAX);
    loop {
        // SAFETY: one pollfd we own, for the stated length.
        match unsafe { libc::poll(&mut p, 1, ms) } {
            n if n > 0 => return Ok(()),
            0 => return Err(io::ErrorKind::TimedOut.into()),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

fn send_msg(out: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let fd_bytes = std::mem::size_of_val(fds);
    let fd_len = u32::try_from(fd_bytes).map_err(|_| io::Error::other("too many sockets"))?;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = if fds.is_empty() {
        0
    } else {
        unsafe { libc::CMSG_SPACE(fd_len) as usize }
    };
    // u64 cells: the control buffer must be aligned for cmsghdr.
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the buffer holds CMSG_SPACE(fd_len) bytes, so the first header
        // and its data (fd_len bytes) fit; the copy reads fds.len() descriptors.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(fd_len) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), fd_bytes);
        }
    }
    // SAFETY: `msg` describes valid buffers; MSG_NOSIGNAL: a gone peer is an error, not SIGPIPE.
    let n = unsafe { libc::sendmsg(out, &msg, libc::MSG_NOSIGNAL) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Receives into `buf`, appending the descriptors that came along to `fds`.
fn recv_msg(from: RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let cap = u32::try_from(SCM_MAX_FD * std::mem::size_of::<RawFd>()).unwrap_or(u32::MAX);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(cap) as usize };
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: plain data, pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` describes buffers we own; the kernel writes within their lengths.
    let n = unsafe { libc::recvmsg(from, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    // SAFETY: the kernel filled the control buffer; CMSG_* walk within msg_controllen,
    // and each SCM_RIGHTS entry holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors now ours.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c);
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("sockets were lost in transit"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn descriptions_round_trip_and_wait_for_missing_bytes() {
        let mut b = Vec::new();
        put_meta(&mut b, None, None);
        put_meta(&mut b, Some("blue"), Some("lo"));
        assert_eq!(&b[..6], &[0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[6..], b"\x04blue\x02lo\0\0\0\0");
        let want = vec![
            Meta::default(),
            Meta {
                namespace: Some("blue".into()),
                interface: Some("lo".into()),
            },
        ];
        assert_eq!(parse_meta(&b, 2), Some(want));
        for cut in 0..b.len() {
            assert_eq!(parse_meta(&b[..cut], 2), None, "cut at {cut}");
        }
        assert_eq!(parse_meta(&[], 0), Some(vec![]));
    }

    #[test]
    fn more_sockets_than_one_batch_cross_a_socket_pair() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let want = l.local_addr().unwrap();
        let n = BATCH + 3;
        let socks: Vec<(Option<String>, RawFd)> = (0..n)
            .map(|i| ((i % 2 == 0).then(|| "lo".to_string()), l.as_raw_fd()))
            .collect();
        let sender =
            std::thread::spawn(move || send_socks(a.as_raw_fd(), &socks, Duration::from_secs(10)));
        let got = recv_socks(b.as_raw_fd()).unwrap();
        sender.join().unwrap().unwrap();
        assert_eq!(got.len(), n);
        for (i, (meta, fd)) in got.into_iter().enumerate() {
            assert_eq!(meta.interface.is_some(), i % 2 == 0);
            assert_eq!(std::net::TcpListener::from(fd).local_addr().unwrap(), want);
        }
    }

    #[test]
    fn a_silent_close_and_a_text_answer_are_refusals() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        send_socks(a.as_raw_fd(), &[], Duration::from_secs(1)).unwrap();
        drop(a);
        let e = recv_socks(b.as_raw_fd()).unwrap_err();
        assert!(e.to_string().contains("expose-fd listeners"), "{e}");
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut a, b"Unknown command.\n").unwrap();
        assert!(recv_socks(b.as_raw_fd()).is_err());
    }
}
