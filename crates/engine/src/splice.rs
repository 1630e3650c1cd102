//! `option splice-request|splice-response|splice-auto`: kernel-side forwarding
//! with splice(2) through a pipe, so payload bytes never enter user space.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::{ReadHalf, WriteHalf};

const PIPE_CHUNK: usize = 64 * 1024;

struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0i32; 2];
        // SAFETY: fds is a valid array of two ints for pipe2 to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, both descriptors are fresh and ours.
        Ok(unsafe {
            Pipe {
                r: OwnedFd::from_raw_fd(fds[0]),
                w: OwnedFd::from_raw_fd(fds[1]),
            }
        })
    }
}

fn splice(from: i32, to: i32, len: usize) -> io::Result<usize> {
    // SAFETY: plain syscall on descriptors that outlive the call; null offsets
    // mean "current position" as required for sockets and pipes.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Moves bytes from `r` to `w` in the kernel until end of stream, then
/// half-closes `w`.
pub(crate) async fn pump(
    r: &mut ReadHalf<'_>,
    w: &mut WriteHalf<'_>,
    activity: &crate::tunnel::Activity<'_>,
) -> io::Result<u64> {
    let pipe = Pipe::new()?;
    let mut total = 0u64;
    let (src, dst) = (r.as_ref().as_raw_fd(), w.as_ref().as_raw_fd());
    loop {
        r.as_ref().readable().await?;
        let n = match r.as_ref().try_io(Interest::READABLE, || {
            splice(src, pipe.w.as_raw_fd(), PIPE_CHUNK)
        }) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            let _ = w.shutdown().await;
            return Ok(total);
        }
        activity.read();
        total += n as u64;
        let mut left = n;
        while left > 0 {
            w.as_ref().writable().await?;
            match w
                .as_ref()
                .try_io(Interest::WRITABLE, || splice(pipe.r.as_raw_fd(), dst, left))
            {
                Ok(m) => left -= m.min(left),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        activity.wrote();
    }
}
