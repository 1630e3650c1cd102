//! Reads that tell tokio when a socket is drained.
//!
//! tokio keeps a socket "readable" until a read fails with `WouldBlock`, so a
//! connection whose request (or response) came in one read pays one more
//! `recv` returning `EAGAIN` at its next wait: on keep-alive traffic, a third
//! more `recvfrom` calls than HAProxy makes. A short read (fewer bytes than
//! the space offered) means the socket had nothing more at that moment;
//! reporting it to tokio as `WouldBlock` from inside `try_io` clears the
//! readiness without that extra call.
//!
//! This is safe with edge-triggered epoll: `try_io` notes the readiness tick
//! before the read and clears only that tick, so data arriving during or
//! after the read bumps the tick and stays announced. End of stream is never
//! cleared (tokio keeps the read-closed state).

use std::io::{self, Read};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// One non-blocking read of `s` into `buf`, clearing its readiness when the
/// read came up short. `WouldBlock` when there was nothing.
pub(crate) fn read_drained(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = None;
    let r = s.try_io(Interest::READABLE, || {
        let n = (&*socket2::SockRef::from(s)).read(buf)?;
        got = Some(n);
        if n > 0 && n < buf.len() {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match got {
        Some(n) => Ok(n),
        None => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_short_read_clears_readiness_and_new_data_sets_it_again() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        c.write_all(b"one").await.unwrap();
        s.readable().await.unwrap();
        let mut b = [0u8; 64];
        assert_eq!(read_drained(&s, &mut b).unwrap(), 3);
        // Nothing more: readiness is cleared, no read is tried.
        let again = s.try_io(Interest::READABLE, || Ok(()));
        assert_eq!(again.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        c.write_all(b"two").await.unwrap();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(5), s.readable()).await;
        assert!(matches!(ready, Ok(Ok(()))));
        assert_eq!(read_drained(&s, &mut b).unwrap(), 3);
        drop(c);
        let ready = tokio::time::timeout(std::time::Duration::from_secs(5), s.readable()).await;
        assert!(matches!(ready, Ok(Ok(()))));
        assert_eq!(
            read_drained(&s, &mut b).unwrap(),
            0,
            "end of stream stays readable"
        );
    }
}
