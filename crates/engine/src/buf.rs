//! Fixed-size I/O buffers recycled through a per-thread pool, so a request costs
//! no allocation once a thread is warm and memory per connection stays bounded.

use std::cell::RefCell;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Buffers kept per thread; beyond that they go back to the allocator, so a
/// burst of connections does not pin its peak memory forever.
const POOL_MAX: usize = 256;

/// Buffers held by connections right now, all threads (not the pools).
static IN_USE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many I/O buffers connections hold right now (idle connections hold none).
pub fn buffers_in_use() -> usize {
    IN_USE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Buffers always kept, whatever the recent use.
const POOL_KEEP: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static FREED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Fewest buffers the pool held since the last trim: that many sat unused.
    static LOW: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Connections parked since the last trim.
    static PARKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Called periodically by each worker: frees the buffers that stayed unused
/// for a whole period (beyond a small reserve), then returns freed memory to
/// the system. Without it, a burst would pin its peak memory forever.
pub(crate) fn trim_if_needed() {
    let unused = LOW.with(|l| l.get());
    let idle = POOL.with(|p| {
        let mut p = p.borrow_mut();
        let drop_n = unused.min(p.len()).saturating_sub(POOL_KEEP);
        let keep = p.len() - drop_n;
        p.truncate(keep);
        p.shrink_to(keep.max(POOL_KEEP));
        LOW.with(|l| l.set(keep));
        drop_n
    });
    let freed = FREED.with(|f| f.replace(0)) + idle;
    // Connections parked since the last tick left their tasks' memory free:
    // trimmed once a wave of parking settles (or grows large), so a burst of
    // keep-alive clients gone idle does not pin its peak.
    let parked = crate::park::take_parked_count();
    let pending = PARKED.with(|p| p.get()) + parked;
    let settle = pending > 0 && (parked == 0 || pending >= 1024);
    PARKED.with(|p| p.set(if settle { 0 } else { pending }));
    if freed >= POOL_KEEP || settle {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free heap pages; no pointer is involved.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// A buffer holding `data[start..end]` as unread bytes.
pub struct Buf {
    /// Empty while released (an idle connection holds no buffer memory).
    data: Vec<u8>,
    size: usize,
    start: usize,
    end: usize,
}

fn from_pool(size: usize) -> Vec<u8> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let got = p
            .iter()
            .rposition(|b| b.len() == size)
            .map(|i| p.swap_remove(i));
        LOW.with(|l| l.set(l.get().min(p.len())));
        got
    })
    .unwrap_or_else(|| vec![0; size])
}

fn to_pool(data: Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(data);
        } else {
            FREED.with(|f| f.set(f.get() + 1));
        }
    });
}

impl Buf {
    /// Takes a buffer of `size` bytes from this thread's pool.
    pub fn take(size: usize) -> Buf {
        IN_USE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Buf {
            data: from_pool(size),
            size,
            start: 0,
            end: 0,
        }
    }

    /// A buffer whose memory is taken from the pool at the first read.
    pub fn lazy(size: usize) -> Buf {
        Buf {
            data: Vec::new(),
            size,
            start: 0,
            end: 0,
        }
    }

    /// Gives the memory back to the pool while empty; the next read takes it again.
    pub fn release(&mut self) {
        if self.is_empty() && !self.data.is_empty() {
            IN_USE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            to_pool(std::mem::take(&mut self.data));
        }
    }

    fn ensure(&mut self) {
        if self.data.is_empty() {
            IN_USE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.data = from_pool(self.size);
        }
    }

    pub fn readable(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Appends bytes if they fit.
    #[cfg(test)]
    pub fn push(&mut self, bytes: &[u8]) -> bool {
        self.ensure();
        self.compact_if_needed(bytes.len());
        if self.data.len() - self.end < bytes.len() {
            return false;
        }
        self.data[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
        true
    }

    pub fn is_full(&self) -> bool {
        self.len() == self.data.len()
    }

    fn compact_if_needed(&mut self, want: usize) {
        if self.start > 0 && self.data.len() - self.end < want {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// One non-blocking read with `read` (e.g. `try_read`) into the free space.
    /// On `WouldBlock` an empty buffer goes back to the pool, so a connection
    /// waiting for data holds none.
    pub fn try_fill(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.ensure();
        self.compact_if_needed(self.data.len());
        if self.end == self.data.len() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer full"));
        }
        match read(&mut self.data[self.end..]) {
            Ok(n) => {
                self.end += n;
                Ok(n)
            }
            Err(e) => {
                self.release();
                Err(e)
            }
        }
    }

    /// Reads once from `r` into the free space; `Ok(0)` is end of stream.
    pub async fn fill_from<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<usize> {
        self.ensure();
        self.compact_if_needed(self.data.len());
        if self.end == self.data.len() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer full"));
        }
        let n = r.read(&mut self.data[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if !self.data.is_empty() {
            IN_USE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        to_pool(std::mem::take(&mut self.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_consume_compacts() {
        let mut b = Buf::take(8);
        assert!(b.push(b"abcdef"));
        b.consume(4);
        assert_eq!(b.readable(), b"ef");
        assert!(b.push(b"ghijkl"));
        assert_eq!(b.readable(), b"efghijkl");
        assert!(b.is_full());
        assert!(!b.push(b"x"));
        b.consume(8);
        b.release();
        assert!(b.data.is_empty());
        assert!(b.push(b"again"));
        assert_eq!(b.readable(), b"again");
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    #[test]
    fn unused_buffers_are_freed_after_a_quiet_period() {
        let bufs: Vec<Buf> = (0..100).map(|_| Buf::take(1024)).collect();
        drop(bufs);
        let len = || POOL.with(|p| p.borrow().len());
        assert_eq!(len(), 100);
        trim_if_needed(); // the period of the burst: LOW was low, nothing freed
        trim_if_needed(); // a quiet period: all but the reserve go
        assert_eq!(len(), POOL_KEEP);
        let b = Buf::take(1024);
        drop(b);
        trim_if_needed();
        assert_eq!(len(), POOL_KEEP);
    }
}
