//! The logger: a bounded queue in front of one sender thread, so that the
//! data path never blocks on a slow or absent syslog server.

use super::syslog::{frame, LogServer, LogTarget, Severity, SyslogHeader};
use crate::error::ObserveError;
use crate::time;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// One line to send, already rendered (without syslog header).
#[derive(Clone, Debug)]
pub struct LogMessage {
    pub severity: Severity,
    pub time: SystemTime,
    /// RFC 5424 structured data (`log-format-sd`); empty prints `-`.
    pub sd: String,
    pub body: Vec<u8>,
    /// The proxy's `log-tag`, when it differs from the logger's.
    pub tag: Option<String>,
}

/// Counters, readable at any time (`show info`'s `DroppedLogs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoggerStats {
    /// Lines refused because the queue was full.
    pub dropped: u64,
    /// Datagrams/writes that reached the system.
    pub sent: u64,
    /// Writes the system refused (unreachable syslog, closed stdout).
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

enum Sink {
    Udp(UdpSocket, SocketAddr),
    Unix(UnixDatagram, std::path::PathBuf),
    Stdout,
    Stderr,
    Ring(super::ring::RingRef),
}

impl Sink {
    fn open(target: &LogTarget) -> Result<Sink, ObserveError> {
        let fail = |source| ObserveError::LogTarget {
            target: format!("{target:?}"),
            source,
        };
        Ok(match target {
            LogTarget::Udp(addr) => {
                let bind: SocketAddr = if addr.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                let s = UdpSocket::bind(bind).map_err(fail)?;
                s.set_nonblocking(true).map_err(fail)?;
                Sink::Udp(s, *addr)
            }
            LogTarget::Unix(path) => {
                let s = UnixDatagram::unbound().map_err(fail)?;
                s.set_nonblocking(true).map_err(fail)?;
                Sink::Unix(s, path.clone())
            }
            LogTarget::Stdout => Sink::Stdout,
            LogTarget::Stderr => Sink::Stderr,
            LogTarget::Ring(r) => Sink::Ring(r.clone()),
        })
    }

    fn send(&self, line: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Udp(s, to) => s.send_to(line, to).map(|_| ()),
            Sink::Unix(s, to) => s.send_to(line, to).map(|_| ()),
            Sink::Stdout => std::io::stdout().lock().write_all(line),
            Sink::Stderr => std::io::stderr().lock().write_all(line),
            Sink::Ring(r) => {
                // Rings keep lines without their final newline.
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                if r.ring.write(line) {
                    Ok(())
                } else {
                    Err(std::io::ErrorKind::OutOfMemory.into())
                }
            }
        }
    }
}

/// Up to two (or more) log servers fed from one queue.
pub struct Logger {
    tx: Option<SyncSender<LogMessage>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
    /// Signalled by the sender thread when it has drained the queue.
    /// Behind a mutex only so that a `Logger` can be shared by worker threads
    /// (`try_log` takes `&self`); it is read once, when the logger is dropped.
    done: std::sync::Mutex<Receiver<()>>,
}

/// How long dropping a logger waits for queued lines to go out.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl Logger {
    /// Opens every target and starts the sender thread. `capacity` bounds the
    /// queue; lines beyond it are dropped and counted.
    pub fn start(
        servers: Vec<LogServer>,
        header: SyslogHeader,
        capacity: usize,
    ) -> Result<Logger, ObserveError> {
        let sinks = servers
            .iter()
            .map(|s| Sink::open(&s.target))
            .collect::<Result<Vec<_>, _>>()?;
        let (tx, rx) = sync_channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let (done_tx, done) = channel();
        let thread = std::thread::Builder::new()
            .name("fulcrum-log".into())
            .spawn(move || {
                run(rx, servers, sinks, header, &c);
                let _ = done_tx.send(());
            })
            .map_err(|source| ObserveError::LogTarget {
                target: "logger thread".into(),
                source,
            })?;
        Ok(Logger {
            tx: Some(tx),
            counters,
            thread: Some(thread),
            done: std::sync::Mutex::new(done),
        })
    }

    /// Queues a line; never blocks. `false` when it was dropped.
    pub fn try_log(&self, msg: LogMessage) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub fn stats(&self) -> LoggerStats {
        LoggerStats {
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Logger {
    /// Closing the queue ends the thread once it has sent what is queued; a
    /// target that blocks (a full stdout pipe) is given up on after a bound.
    fn drop(&mut self) {
        self.tx = None;
        let drained = match self.done.get_mut() {
            Ok(rx) => rx.recv_timeout(DRAIN_TIMEOUT).is_ok(),
            Err(_) => false,
        };
        if drained {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn run(
    rx: Receiver<LogMessage>,
    servers: Vec<LogServer>,
    sinks: Vec<Sink>,
    header: SyslogHeader,
    counters: &Counters,
) {
    let mut seen = vec![0u64; servers.len()];
    for msg in rx {
        let offset = time::local_offset(msg.time);
        let tagged;
        let header = match &msg.tag {
            Some(tag) => {
                tagged = SyslogHeader {
                    tag: tag.clone(),
                    ..header.clone()
                };
                &tagged
            }
            None => &header,
        };
        for (i, (server, sink)) in servers.iter().zip(&sinks).enumerate() {
            if let Some(sampling) = &server.sample {
                let n = seen[i];
                seen[i] += 1;
                if !sampling.keeps(n) {
                    continue;
                }
            }
            let body = match sink {
                // A ring's `log` line cuts the message to its `len`, then the ring
                // adds its header and cuts to its `maxlen`.
                Sink::Ring(r) => &msg.body[..msg.body.len().min(r.msg_len)],
                _ => &msg.body[..],
            };
            let Some(line) = frame(
                server,
                header,
                msg.severity,
                msg.time,
                offset,
                &msg.sd,
                body,
            ) else {
                continue;
            };
            let sent = match sink {
                Sink::Ring(r) => {
                    let announce = |n| {
                        let text = super::ring::dropped_text(n);
                        let a = frame(
                            server,
                            header,
                            Severity::Notice,
                            msg.time,
                            offset,
                            "",
                            text.as_bytes(),
                        );
                        let mut a = a.unwrap_or_else(|| text.into_bytes());
                        if a.last() == Some(&b'\n') {
                            a.pop();
                        }
                        a
                    };
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    if r.ring.write_after_drops(line, announce) {
                        Ok(())
                    } else {
                        Err(std::io::ErrorKind::OutOfMemory.into())
                    }
                }
                _ => sink.send(&line),
            };
            let counter = match sent {
                Ok(()) => &counters.sent,
                Err(_) => &counters.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}
