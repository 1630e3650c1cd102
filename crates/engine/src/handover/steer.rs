//! Handing per-thread sockets to a process that keeps one per bind.
//!
//! Fulcrum listens on one SO_REUSEPORT socket per thread and bind; HAProxy
//! 2.6 keeps one socket per bind, the last one sent that matches, and closes
//! the others. A socket closed for good resets the clients waiting in its
//! backlog, and the old process closes its copies when it stops. So before such
//! a process gets the sockets (it asks plain `_getsocks`), the kernel is told
//! to give every new connection of the group to the last socket (a
//! one-instruction classic BPF program: "return index N-1"); the old process
//! keeps accepting on the others meanwhile, and on its graceful stop accepts
//! what is still queued on them before closing them (`drain`).
//!
//! The index of a socket in its group is the order it joined: Fulcrum binds a
//! bind's sockets in order and sends, receives and keeps them in that order,
//! so the last one sent is the last one in the group.

use std::io;
use std::os::fd::RawFd;

/// SO_ATTACH_REUSEPORT_CBPF (not in the libc crate for Linux targets).
#[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 0x35;

/// Gives every new connection of `fd`'s SO_REUSEPORT group to its socket
/// number `index` (an index past the group's end falls back to the hash).
pub(super) fn to_index(fd: RawFd, index: u32) -> io::Result<()> {
    let mut code = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: index,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: code.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `code`, both alive for the call; the kernel
    // copies the program.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn every_new_connection_goes_to_the_chosen_socket() {
        let mut group = Vec::new();
        let first =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        first.set_reuse_port(true).unwrap();
        first
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        first.listen(64).unwrap();
        let addr = first.local_addr().unwrap().as_socket().unwrap();
        group.push(first);
        for _ in 0..2 {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_reuse_port(true).unwrap();
            s.bind(&addr.into()).unwrap();
            s.listen(64).unwrap();
            group.push(s);
        }
        to_index(group[0].as_raw_fd(), 2).unwrap();
        let clients: Vec<_> = (0..12)
            .map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap())
            .collect();
        let last: std::net::TcpListener = group.pop().unwrap().into();
        last.set_nonblocking(true).unwrap();
        let mut accepted = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while accepted < clients.len() && std::time::Instant::now() < deadline {
            match last.accept() {
                Ok(_) => accepted += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        assert_eq!(accepted, clients.len(), "some connections went elsewhere");
    }
}
