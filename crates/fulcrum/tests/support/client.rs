//! A minimal raw HTTP/1.1 client (exact bytes in, exact bytes out) and WebSocket framing,
//! shared by the test clients and the backends. Every read has a 5 s timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A response as received: the exact bytes and their parsed pieces.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: Vec<u8>,
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The backend that answered (its `X-Server` header), "" for proxy-made responses.
    pub fn server(&self) -> &str {
        self.header("x-server").unwrap_or("")
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s
}

/// Sends `raw` on a new connection and reads one response (by its framing, else to close).
pub fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut s = connect(addr);
    s.write_all(raw).expect("send request");
    let mut buf = Vec::new();
    read_response(&mut s, &mut buf, raw.starts_with(b"HEAD ")).unwrap_or_else(|| {
        panic!(
            "no response from {addr} to {:?}",
            String::from_utf8_lossy(raw)
        )
    })
}

/// `GET path` with `Host: test` (unless given), `Connection: close` and `headers`.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str("Host: test\r\n");
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    request(addr, req.as_bytes())
}

/// Reads up to and including the blank line; what follows stays in `buf`. `None` on EOF,
/// timeout, or a head over 64 KiB.
pub fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let mut tmp = [0u8; 4096];
    for _ in 0..10_000 {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).into_owned();
            buf.drain(..p + 4);
            return Some(head);
        }
        if buf.len() > 65536 {
            return None;
        }
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    None
}

/// One response from `s`: Content-Length, chunked, or read to close.
pub fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>, head_only: bool) -> Option<Response> {
    let start_len = buf.len();
    let head = read_head(s, buf)?;
    let _ = start_len;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut tmp = [0u8; 8192];
    let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
    let body: Vec<u8> = if no_body {
        Vec::new()
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < len {
            match s.read(&mut tmp) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        buf.drain(..len.min(buf.len())).collect()
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        for _ in 0..100_000 {
            if buf.windows(5).any(|w| w == b"0\r\n\r\n") {
                break;
            }
            match s.read(&mut tmp) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let end = buf
            .windows(5)
            .position(|w| w == b"0\r\n\r\n")
            .map_or(buf.len(), |p| p + 5);
        let chunked: Vec<u8> = buf.drain(..end).collect();
        dechunk(&chunked)
    } else {
        for _ in 0..100_000 {
            match s.read(&mut tmp) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        std::mem::take(buf)
    };
    let mut raw = head.clone().into_bytes();
    raw.extend_from_slice(b"\r\n\r\n");
    raw.extend_from_slice(&body);
    Some(Response {
        raw,
        status,
        head,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..p]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        data = &data[p + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// Reads until `n` bytes arrived (or EOF/timeout); returns what came.
pub fn read_exact_bounded(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match s.read(&mut out[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    out.truncate(got);
    out
}

/// A WebSocket client connection after a successful (or refused) handshake.
pub struct WsClient {
    pub stream: TcpStream,
    pub response: Response,
    pending: Vec<u8>,
}

impl WsClient {
    /// Sends an upgrade request with `extra` headers; the response head is in `response`.
    pub fn connect(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> WsClient {
        let mut s = connect(addr);
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        for (n, v) in extra {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).expect("send upgrade");
        let mut pending = Vec::new();
        let response = read_response(&mut s, &mut pending, false).expect("upgrade response");
        WsClient {
            stream: s,
            response,
            pending,
        }
    }

    pub fn send_text(&mut self, text: &str) {
        ws_write_frame(&mut self.stream, 0x1, text.as_bytes(), true).expect("send frame");
    }

    /// Next data frame as (opcode, payload); `None` on close, EOF or timeout.
    pub fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        ws_read_frame(&mut self.stream, &mut self.pending)
    }
}

/// Writes one final frame; clients mask (RFC 6455 §5.3), servers do not.
pub fn ws_write_frame(
    s: &mut TcpStream,
    op: u8,
    payload: &[u8],
    mask: bool,
) -> std::io::Result<()> {
    let mut f = vec![0x80 | op];
    let m = if mask { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x12, 0x34, 0x56, 0x78];
    if mask {
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    s.write_all(&f)
}

/// Reads one frame (unmasking it); `pending` holds bytes read past the previous one.
pub fn ws_read_frame(s: &mut TcpStream, pending: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let mut tmp = [0u8; 8192];
    for _ in 0..100_000 {
        if let Some((op, payload, used)) = parse_frame(pending) {
            pending.drain(..used);
            return Some((op, payload));
        }
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&tmp[..n]),
        }
    }
    None
}

fn parse_frame(b: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if b.len() < 2 {
        return None;
    }
    let op = b[0] & 0x0f;
    let masked = b[1] & 0x80 != 0;
    let (len, mut at) = match b[1] & 0x7f {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
        127 => (
            u64::from_be_bytes(b.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let key = if masked {
        let k: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(k)
    } else {
        None
    };
    let data = b.get(at..at + len)?;
    let payload = match key {
        Some(k) => data.iter().enumerate().map(|(i, x)| x ^ k[i % 4]).collect(),
        None => data.to_vec(),
    };
    Some((op, payload, at + len))
}

/// `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
pub fn ws_accept(key: &str) -> String {
    let mut input = key.trim().as_bytes().to_vec();
    input.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&sha1(&input))
}

pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-1, only for the WebSocket handshake of the test servers.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}
