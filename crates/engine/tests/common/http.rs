//! A small blocking HTTP/1.1 origin server for tests.
#![allow(dead_code)]

use super::lo;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub head: String,
    pub body: Vec<u8>,
    pub conn_id: usize,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .collect()
    }
}

pub struct Origin {
    pub addr: SocketAddr,
    pub conns: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<Req>>>,
}

/// Starts an origin answering each request with `f(&req)` (raw response bytes).
/// Keeps the connection open unless the request or response says close.
pub fn origin<F>(f: F) -> Origin
where
    F: Fn(&Req) -> Vec<u8> + Send + Sync + 'static,
{
    let l = TcpListener::bind(lo()).unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let f = Arc::new(f);
    let (c2, s2) = (conns.clone(), seen.clone());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let id = c2.fetch_add(1, Ordering::SeqCst);
            let (f, seen) = (f.clone(), s2.clone());
            std::thread::spawn(move || serve_conn(s, id, &*f, &seen));
        }
    });
    Origin { addr, conns, seen }
}

fn serve_conn(s: TcpStream, id: usize, f: &dyn Fn(&Req) -> Vec<u8>, seen: &Mutex<Vec<Req>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        let Some(req) = read_request(&mut r, id) else {
            return;
        };
        if req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            // read_request already consumed the body for CL=0 only; handled by caller
        }
        seen.lock().unwrap().push(req.clone());
        let resp = f(&req);
        if w.write_all(&resp).is_err() {
            return;
        }
        let text = String::from_utf8_lossy(&resp).to_ascii_lowercase();
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || text
                .split("\r\n\r\n")
                .next()
                .unwrap_or("")
                .contains("connection: close");
        if close {
            return;
        }
    }
}

/// Reads one request; sends `100 Continue` itself when asked.
pub fn read_request(r: &mut BufReader<TcpStream>, id: usize) -> Option<Req> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" && !head.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let mut parts = head.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut req = Req {
        method,
        path,
        head,
        body: Vec::new(),
        conn_id: id,
    };
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        r.get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .ok()?;
    }
    if let Some(cl) = req.header("content-length") {
        let n: usize = cl.parse().ok()?;
        // Large bodies are counted, not kept, to keep memory flat.
        if n > 1 << 20 {
            let copied =
                std::io::copy(&mut r.by_ref().take(n as u64), &mut std::io::sink()).ok()?;
            req.body = format!("{copied} bytes").into_bytes();
        } else {
            req.body = vec![0; n];
            r.read_exact(&mut req.body).ok()?;
        }
    } else if req.header("transfer-encoding").is_some() {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // trailers
                loop {
                    let mut t = String::new();
                    r.read_line(&mut t).ok()?;
                    if t == "\r\n" {
                        break;
                    }
                    req.head.push_str(&t);
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).ok()?;
            req.body.extend_from_slice(&chunk[..size]);
        }
    }
    Some(req)
}

pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
