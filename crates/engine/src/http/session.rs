//! One client connection in `mode http`: waits for each request head under the
//! right timeout, hands it to a transaction, and keeps the server connection
//! for the next request when the connection mode allows it.

use super::rules::{self, Decision};
use super::{errors, pool, txn};
use crate::buf::Buf;
use crate::connect::ClientAddrs;
use crate::runtime::{Backend, Bind, Frontend, Runtime};
use fulcrum_proto::{Limits, Parsed, RequestHead, Side};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A server connection kept by a session between requests.
pub(crate) struct SrvConn {
    pub backend: usize,
    pub server: usize,
    pub addr: SocketAddr,
    pub stream: TcpStream,
    pub uses: u32,
    /// Carries this client's PROXY header: never shared with another client.
    pub private: bool,
}

pub(crate) struct Session<'a> {
    pub rt: &'a Runtime,
    pub fe: &'a Frontend,
    pub client: TcpStream,
    pub cbuf: Buf,
    pub addrs: ClientAddrs,
    /// The request being served; offsets into `cbuf`.
    pub req: Option<RequestHead>,
    pub limits: Limits,
    /// The request head as rules rewrote it, if they did.
    pub rewritten: Option<Vec<u8>>,
    pub requests: u64,
    pub srv: Option<SrvConn>,
}

/// What waiting for a request head produced.
enum HeadWait {
    Ready,
    /// Client closed or idled out between requests: close quietly.
    Gone,
    Fail(u16),
}

pub(crate) async fn serve(
    rt: &Runtime,
    fe: &Frontend,
    bind: &Bind,
    mut client: TcpStream,
    peer: SocketAddr,
) -> io::Result<()> {
    let mut cbuf = Buf::lazy(rt.tune.bufsize);
    let mut addrs = ClientAddrs {
        src: peer,
        dst: client.local_addr()?,
    };
    if bind.accept_proxy {
        if let Some((s, d)) =
            Box::pin(crate::tcp::read_proxy_header(&mut client, &mut cbuf, fe)).await?
        {
            addrs = ClientAddrs { src: s, dst: d };
        }
    }
    let mut s = Session {
        rt,
        fe,
        client,
        cbuf,
        addrs,
        req: None,
        limits: Limits::from_tune(rt.tune.bufsize, rt.tune.maxrewrite, false),
        rewritten: None,
        requests: 0,
        srv: None,
    };
    let r = s.run().await;
    s.park_server();
    r
}

impl Session<'_> {
    async fn run(&mut self) -> io::Result<()> {
        loop {
            match self.wait_head().await {
                HeadWait::Ready => {}
                HeadWait::Gone => return Ok(()),
                HeadWait::Fail(code) => return Box::pin(self.send_error(code, None)).await,
            }
            self.requests += 1;
            let bi = match rules::decide(self) {
                Decision::Forward { backend, head } => {
                    self.rewritten = head;
                    backend
                }
                Decision::NoBackend => return Box::pin(self.send_error(503, None)).await,
                Decision::Close => {
                    // No FIN handshake for the client to wait on: reset, as HAProxy does.
                    let _ = socket2::SockRef::from(&self.client).set_linger(Some(Duration::ZERO));
                    return Ok(());
                }
                Decision::Reply(bytes) => return Box::pin(self.send_reply(&bytes)).await,
                Decision::Tarpit(bytes) => {
                    let t = self.fe.timeouts.tarpit.or(self.fe.timeouts.connect);
                    tokio::time::sleep(t.unwrap_or(Duration::ZERO)).await;
                    return Box::pin(self.send_reply(&bytes)).await;
                }
            };
            // Boxed: the transaction's large state exists only while one runs, so an
            // idle keep-alive connection stays small.
            match Box::pin(txn::run(self, bi)).await? {
                txn::Next::KeepAlive => continue,
                txn::Next::Close => return Ok(()),
                txn::Next::Error(code) => {
                    return Box::pin(self.send_error(code, Some(&self.rt.backends[bi]))).await
                }
            }
        }
    }

    /// Reads until a complete request head is in `cbuf`, parsed into `head`.
    async fn wait_head(&mut self) -> HeadWait {
        let t = &self.fe.timeouts;
        let first = self.requests == 0;
        let request_t = t.http_request.or(t.client);
        // Between requests, `timeout http-keep-alive` bounds the wait for the
        // first byte; then `timeout http-request` bounds the whole head.
        let idle_t = if first {
            request_t
        } else {
            t.http_keep_alive.or(request_t)
        };
        let mut deadline = idle_t.map(|d| Instant::now() + d);
        let mut started = !self.cbuf.is_empty();
        if started && !first {
            deadline = request_t.map(|d| Instant::now() + d);
        }
        loop {
            if !self.cbuf.is_empty() {
                match fulcrum_proto::parse_request(self.cbuf.readable(), &self.limits) {
                    Ok(Parsed::Complete(h, _)) => {
                        self.req = Some(h);
                        return HeadWait::Ready;
                    }
                    Ok(Parsed::Partial) => {}
                    Err(e) => return HeadWait::Fail(e.status(Side::Request)),
                }
            }
            let (cbuf, client) = (&mut self.cbuf, &mut self.client);
            let read = async {
                // Idle keep-alive connections hold no buffer while they wait.
                if cbuf.is_empty() {
                    cbuf.release();
                    client.readable().await?;
                }
                cbuf.fill_from(client).await
            };
            let got = match deadline {
                Some(d) => match tokio::time::timeout_at(d, read).await {
                    Ok(r) => r,
                    Err(_) => {
                        // A silent keep-alive connection just ends; a started or
                        // first request gets 408 (unless http-ignore-probes).
                        if !started && (!first || self.fe.http.ignore_probes) {
                            return HeadWait::Gone;
                        }
                        return HeadWait::Fail(408);
                    }
                },
                None => read.await,
            };
            match got {
                Ok(0) | Err(_) => {
                    return if self.cbuf.is_empty() {
                        HeadWait::Gone
                    } else {
                        HeadWait::Fail(400)
                    };
                }
                Ok(_) => {
                    if !started {
                        started = true;
                        if !first {
                            deadline = request_t.map(|d| Instant::now() + d);
                        }
                    }
                }
            }
        }
    }

    /// Sends an error page and closes, draining briefly so the client reads it
    /// instead of getting a reset.
    pub(crate) async fn send_error(&mut self, code: u16, be: Option<&Backend>) -> io::Result<()> {
        let page = errors::page(code, be.map(|b| &b.errors), &self.fe.errors);
        self.send_reply(page).await
    }

    /// Sends a complete response and closes the connection.
    pub(crate) async fn send_reply(&mut self, page: &[u8]) -> io::Result<()> {
        let w = body_timeout(self.fe.timeouts.client, self.client.write_all(page)).await;
        let _ = self.client.shutdown().await;
        if w.is_ok() {
            let mut sink = [0u8; 4096];
            let until = Instant::now() + Duration::from_millis(500);
            for _ in 0..256 {
                match tokio::time::timeout_at(until, self.client.read(&mut sink)).await {
                    Ok(Ok(n)) if n > 0 => continue,
                    _ => break,
                }
            }
        }
        w
    }

    /// Returns the session's server connection to the thread's idle pool.
    pub(crate) fn park_server(&mut self) {
        if let Some(c) = self.srv.take() {
            if !c.private {
                pool::put(c.addr, c.stream, c.uses > 1);
            }
        }
    }
}

async fn body_timeout(
    t: Option<Duration>,
    f: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    super::body::with_timeout(t, f).await
}

#[cfg(test)]
mod tests {
    /// Memory per idle keep-alive connection is mostly this future: keep it small
    /// (the transaction and error paths are boxed).
    #[test]
    fn idle_http_session_future_stays_small() {
        let rt = crate::runtime::Runtime {
            nbthread: 1,
            maxconn: None,
            tune: Default::default(),
            frontends: vec![],
            backends: vec![],
        };
        let fe = crate::runtime::Frontend {
            name: String::new(),
            mode: crate::runtime::Mode::Http,
            binds: vec![],
            maxconn: None,
            default_backend: None,
            timeouts: Default::default(),
            http: Default::default(),
            tcp: Default::default(),
            errors: Default::default(),
            rules: None,
        };
        let r = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        r.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let c = tokio::net::TcpStream::connect(addr).await.unwrap();
            let b = crate::runtime::Bind::new(addr);
            let f = super::serve(&rt, &fe, &b, c, addr);
            assert!(
                std::mem::size_of_val(&f) <= 1200,
                "{}",
                std::mem::size_of_val(&f)
            );
        });
    }
}
