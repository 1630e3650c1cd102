//! Per-thread pool of idle server connections (`http-reuse`). Idle connections
//! do not hold a server `maxconn` slot, as in HAProxy.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// HAProxy's default `pool-purge-delay`.
const IDLE_MAX: Duration = Duration::from_secs(5);
const PER_SERVER_MAX: usize = 256;

/// A connection taken from the pool.
pub(crate) struct Idle {
    pub stream: TcpStream,
    /// Already used for more than one request: "proven" for `http-reuse aggressive`.
    pub reused: bool,
}

/// A pooled connection. One returned by a session whose client went idle is
/// kept outside tokio's registration ("cold"): a burst of clients going idle
/// leaves its server connections without their registrations, which would
/// otherwise stay scattered through the memory the burst used.
enum Pooled {
    Live(TcpStream),
    Cold(std::net::TcpStream),
}

struct Entry {
    stream: Pooled,
    reused: bool,
    since: Instant,
}

thread_local! {
    static POOL: RefCell<HashMap<SocketAddr, Vec<Entry>>> = RefCell::new(HashMap::new());
}

/// Parks a connection that finished a response cleanly.
pub(crate) fn put(addr: SocketAddr, stream: TcpStream, reused: bool) {
    add(addr, Pooled::Live(stream), reused);
}

/// Parks a connection whose client went idle: it leaves tokio's registration
/// until it is taken again.
pub(crate) fn put_cold(addr: SocketAddr, stream: TcpStream, reused: bool) {
    if let Ok(s) = stream.into_std() {
        add(addr, Pooled::Cold(s), reused);
    }
}

fn add(addr: SocketAddr, stream: Pooled, reused: bool) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.entry(addr).or_default();
        if list.len() < PER_SERVER_MAX {
            list.push(Entry {
                stream,
                reused,
                since: Instant::now(),
            });
        } else {
            stream.set_silent();
        }
    });
}

impl Pooled {
    /// Makes the close of an idle connection a reset, as HAProxy closes the
    /// idle server connections it does not keep: nothing is in flight, and
    /// neither side is left with a TIME_WAIT socket.
    fn set_silent(&self) {
        let linger = Some(std::time::Duration::ZERO);
        let _ = match self {
            Pooled::Live(s) => socket2::SockRef::from(s).set_linger(linger),
            Pooled::Cold(s) => socket2::SockRef::from(s).set_linger(linger),
        };
    }
}

/// Takes the most recent live idle connection to `addr`; `proven_only` keeps
/// connections never reused in the pool.
pub(crate) fn take(addr: SocketAddr, proven_only: bool) -> Option<Idle> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.get_mut(&addr)?;
        let now = Instant::now();
        list.retain(|i| {
            let keep = now.duration_since(i.since) < IDLE_MAX;
            if !keep {
                i.stream.set_silent();
            }
            keep
        });
        while let Some(pos) = list.iter().rposition(|i| !proven_only || i.reused) {
            let idle = list.swap_remove(pos);
            let stream = match idle.stream {
                Pooled::Live(s) if is_alive(&s) => s,
                Pooled::Cold(s) if cold_alive(&s) => match TcpStream::from_std(s) {
                    Ok(s) => s,
                    Err(_) => continue,
                },
                _ => continue,
            };
            return Some(Idle {
                stream,
                reused: idle.reused,
            });
        }
        None
    })
}

/// A pooled connection is usable only if the server has neither closed it nor
/// sent anything unexpected.
pub(crate) fn is_alive(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// [`is_alive`] for a cold connection (still non-blocking, as tokio left it).
fn cold_alive(s: &std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut b = [0u8; 1];
    let mut r: &std::net::TcpStream = s;
    matches!(r.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
