//! `ring` sections (HAProxy's buffer sinks): a bounded in-memory buffer of the last
//! log lines, read by `show events` and by the TCP forwarders of its `server` lines.
//!
//! Space is counted as HAProxy's ring counts it: each line takes its bytes plus a
//! reader byte and its varint length, one byte more is kept free, and `size` bounds
//! the total. A full ring drops its oldest lines, except those a forwarder that has
//! connected once has not sent yet: then the new line is dropped and counted, and the
//! next line that fits is preceded by "N events dropped", as HAProxy's sinks do.

use super::forward::{self, ForwardTarget};
use super::syslog::{LogServer, LogTarget, SyslogFormat};
use fulcrum_config::model::sections::{ExtraSection, Ring as RingSection};
use fulcrum_config::model::Config;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::time::Duration;

/// HAProxy's `BUFSIZE`: a ring's default `size` and `maxlen`.
pub const DEFAULT_RING_SIZE: usize = 16384;

/// One ring: its settings and its lines.
pub struct Ring {
    pub name: String,
    pub description: String,
    /// The header each line gets (`format`, `raw` by default).
    pub format: SyslogFormat,
    /// Longest line kept, header included.
    pub maxlen: usize,
    /// Bytes the lines may take.
    pub size: usize,
    inner: Mutex<Inner>,
    /// Signalled when a line is added, for forwarders and `show events -w`.
    added: Condvar,
}

#[derive(Default)]
struct Inner {
    lines: VecDeque<Vec<u8>>,
    /// Sequence number of `lines[0]`; a line's number never changes.
    first: u64,
    /// Bytes counted as HAProxy's ring counts them.
    used: usize,
    /// Lines refused since the last "events dropped" line.
    dropped: u64,
    /// Next line each forwarder sends; `None` until it has connected once.
    cursors: Vec<Option<u64>>,
}

impl Inner {
    fn end(&self) -> u64 {
        self.first + self.lines.len() as u64
    }
}

/// What a line costs in the ring: a reader byte, its varint length, its bytes.
fn cost(len: usize) -> usize {
    let mut v = len;
    let mut varint = 1;
    while v >= 240 {
        v = (v - 240) >> 4;
        varint += 1;
    }
    1 + varint + len
}

impl Ring {
    pub fn new(name: &str, description: &str, format: SyslogFormat, size: usize) -> Ring {
        Ring {
            name: name.to_string(),
            description: description.to_string(),
            format,
            maxlen: size,
            size,
            inner: Mutex::new(Inner::default()),
            added: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one line (without its final newline), cut to `maxlen`. `false` when it
    /// could not be kept (too large, or the ring is held full by a forwarder).
    pub fn write(&self, line: &[u8]) -> bool {
        let line = &line[..line.len().min(self.maxlen)];
        let mut g = self.lock();
        let ok = push(&mut g, self.size, line);
        if !ok {
            g.dropped += 1;
        }
        drop(g);
        if ok {
            self.added.notify_all();
        }
        ok
    }

    /// Lines refused and not announced yet (`show events`' "N dropped").
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Adds the "N events dropped" line built by `announce` before `line` when lines
    /// were refused; as HAProxy, `line` is refused too if the announcement is.
    pub fn write_after_drops(&self, line: &[u8], announce: impl Fn(u64) -> Vec<u8>) -> bool {
        let n = self.dropped();
        if n > 0 {
            let a = announce(n);
            let a = &a[..a.len().min(self.maxlen)];
            let mut g = self.lock();
            if push(&mut g, self.size, a) {
                g.dropped = g.dropped.saturating_sub(n);
            } else {
                g.dropped += 1;
                return false;
            }
        }
        self.write(line)
    }

    /// The lines kept now, oldest first, and the number the next line will have.
    pub fn snapshot(&self) -> (Vec<Vec<u8>>, u64) {
        let g = self.lock();
        (g.lines.iter().cloned().collect(), g.end())
    }

    /// Lines from number `from` on (from the oldest kept when older ones are gone),
    /// waiting up to `wait` for one when there is none; and the number after them.
    pub fn read_from(&self, from: u64, wait: Duration) -> (Vec<Vec<u8>>, u64) {
        let mut g = self.lock();
        if g.end() <= from && !wait.is_zero() {
            g = self
                .added
                .wait_timeout(g, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let start = from.max(g.first);
        let skip = usize::try_from(start - g.first).unwrap_or(usize::MAX);
        let lines: Vec<Vec<u8>> = g.lines.iter().skip(skip).cloned().collect();
        (lines, g.end())
    }

    /// Registers a forwarder; its cursor is set when it first connects.
    fn add_forwarder(&self) -> usize {
        let mut g = self.lock();
        g.cursors.push(None);
        g.cursors.len() - 1
    }

    /// The next line forwarder `i` sends: where it stopped, or the oldest line kept
    /// on its first connection (HAProxy's forwarders start from the ring's oldest).
    pub(crate) fn cursor(&self, i: usize) -> u64 {
        let mut g = self.lock();
        let first = g.first;
        match g.cursors.get_mut(i) {
            Some(Some(c)) => (*c).max(first),
            Some(c) => *c.insert(first),
            None => first,
        }
    }

    pub(crate) fn set_cursor(&self, i: usize, next: u64) {
        if let Some(c) = self.lock().cursors.get_mut(i) {
            *c = Some(next);
        }
    }
}

/// Appends `line`, dropping the oldest lines no forwarder still needs.
fn push(g: &mut Inner, size: usize, line: &[u8]) -> bool {
    let need = cost(line.len());
    // One byte more stays free in HAProxy's ring.
    if need + 1 > size {
        return false;
    }
    while g.used + need + 1 > size {
        let pinned = g.cursors.iter().flatten().any(|c| *c <= g.first);
        if pinned {
            return false;
        }
        match g.lines.pop_front() {
            Some(old) => {
                g.used -= cost(old.len());
                g.first += 1;
            }
            None => return false,
        }
    }
    g.used += need;
    g.lines.push_back(line.to_vec());
    true
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ring@{}", self.name)
    }
}

/// A `log ring@NAME` target: the ring (two are equal when they are the same ring)
/// and the `log` line's `len`, which cuts the message before the ring's header.
#[derive(Clone, Debug)]
pub struct RingRef {
    pub ring: Arc<Ring>,
    pub msg_len: usize,
}

impl PartialEq for RingRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ring, &other.ring) && self.msg_len == other.msg_len
    }
}
impl Eq for RingRef {}

/// Every ring of a configuration, in HAProxy's order (its built-in `buf0` first), and
/// their forwarders.
pub struct Rings {
    rings: Vec<Arc<Ring>>,
    forwarders: Vec<(Arc<Ring>, usize, ForwardTarget)>,
    started: Once,
}

impl std::fmt::Debug for Rings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.rings).finish()
    }
}

impl Rings {
    /// HAProxy's own in-memory buffer `buf0` (1 MB, `timed`), alone.
    pub fn builtin() -> Rings {
        Rings {
            rings: vec![Arc::new(Ring::new(
                "buf0",
                "in-memory ring buffer",
                SyslogFormat::Timed,
                1 << 20,
            ))],
            forwarders: Vec::new(),
            started: Once::new(),
        }
    }

    /// The rings of `cfg` after `buf0`; forwarders start with [`Rings::start_forwarders`].
    pub fn from_config(cfg: &Config) -> Rings {
        let Rings {
            mut rings,
            mut forwarders,
            ..
        } = Rings::builtin();
        for s in &cfg.sections {
            let ExtraSection::Ring(r) = s else { continue };
            let ring = Arc::new(ring_of(r));
            for srv in &r.servers {
                let Some(addr) = &srv.addr else { continue };
                let i = ring.add_forwarder();
                let target = ForwardTarget {
                    name: srv.name.clone(),
                    addr: addr.clone(),
                    octet_count: forward::octet_counting(&srv.options),
                    timeout_connect: r.timeout_connect,
                    timeout_server: r.timeout_server,
                };
                forwarders.push((Arc::clone(&ring), i, target));
            }
            rings.push(ring);
        }
        Rings {
            rings,
            forwarders,
            started: Once::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Ring>> {
        self.rings.iter().find(|r| r.name == name)
    }

    /// Starts one thread per ring `server` (once). A thread ends when its ring is
    /// no longer used.
    pub fn start_forwarders(&self) {
        self.started.call_once(|| {
            for (ring, i, target) in &self.forwarders {
                forward::spawn(Arc::downgrade(ring), *i, target.clone());
            }
        });
    }

    /// `show events` without a name: HAProxy's list of its sinks.
    pub fn list(&self) -> String {
        let mut out = String::from(
            "Supported events sinks are listed below. Add -w(wait), -n(new). Any key to stop\n",
        );
        // HAProxy 2.6's own two fd sinks, described as it describes them.
        for (name, desc) in [
            ("stdout", "standard output (fd#1)"),
            ("stderr", "standard output (fd#2)"),
        ] {
            out.push_str(&format!("    {name:<10} : type=fd, 0 dropped, {desc}\n"));
        }
        for r in &self.rings {
            out.push_str(&format!(
                "    {:<10} : type=buffer, {} dropped, {}\n",
                r.name,
                r.dropped(),
                r.description
            ));
        }
        out
    }

    /// Whether `name` is a sink that is not a ring (`show events stdout`).
    pub fn is_fd_sink(name: &str) -> bool {
        matches!(name, "stdout" | "stderr")
    }
}

fn ring_of(r: &RingSection) -> Ring {
    let size = r
        .size
        .and_then(|s| usize::try_from(s).ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_RING_SIZE);
    let format = r
        .format
        .and_then(|f| SyslogFormat::parse(f.keyword()))
        .unwrap_or(SyslogFormat::Raw);
    let name = &r.header.0;
    let mut ring = Ring::new(name, r.description.as_deref().unwrap_or(name), format, size);
    // HAProxy forces a `maxlen` above the size down to the size (with a warning).
    ring.maxlen = r
        .maxlen
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(DEFAULT_RING_SIZE)
        .min(size);
    ring
}

/// The [`LogServer`] a `log ring@NAME` line sends through: the ring's format and
/// `maxlen`, the line's facility, levels and sampling. `len` (the line's) cuts the
/// message before the ring's header is added, as HAProxy does.
pub fn ring_server(line: &LogServer, ring: &Arc<Ring>) -> LogServer {
    LogServer {
        target: LogTarget::Ring(RingRef {
            ring: Arc::clone(ring),
            msg_len: line.max_len,
        }),
        max_len: ring.maxlen,
        format: ring.format,
        ..line.clone()
    }
}

/// The "N events dropped" line HAProxy puts in a ring after refused lines.
pub fn dropped_text(n: u64) -> String {
    format!("{n} event{} dropped", if n > 1 { "s" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_ring_drops_its_oldest_lines() {
        let r = Ring::new("r", "r", SyslogFormat::Raw, 64);
        for i in 0..20 {
            assert!(r.write(format!("line {i:02}").as_bytes()));
        }
        let (lines, end) = r.snapshot();
        assert_eq!(end, 20);
        // A 7-byte line costs 9 bytes: seven fit in 64 with the free byte.
        assert_eq!(lines.len(), 7, "{lines:?}");
        assert_eq!(lines.last().map(Vec::as_slice), Some(&b"line 19"[..]));
        assert!(!r.write(&[b'x'; 100]), "larger than the ring");
    }

    #[test]
    fn a_connected_forwarder_pins_what_it_has_not_sent() {
        let r = Ring::new("r", "r", SyslogFormat::Raw, 64);
        let f = r.add_forwarder();
        r.write(b"first");
        assert_eq!(r.cursor(f), 0);
        for _ in 0..20 {
            r.write(b"more lines");
        }
        assert!(r.dropped() > 0);
        let (lines, next) = r.read_from(r.cursor(f), Duration::ZERO);
        assert_eq!(lines[0], b"first");
        r.set_cursor(f, next);
        let announce = |n| dropped_text(n).into_bytes();
        assert!(r.write_after_drops(b"after", announce));
        let (lines, _) = r.read_from(next, Duration::ZERO);
        assert!(String::from_utf8_lossy(&lines[0]).ends_with("events dropped"));
        assert_eq!(lines[1], b"after");
        assert_eq!(r.dropped(), 0);
    }
}
