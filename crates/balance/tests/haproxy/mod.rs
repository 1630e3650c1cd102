//! The harness of the HAProxy parity test: backends, haproxy, requests.
use fulcrum_balance::{
    AdminState, BalanceAlgo, BalanceOptions, Balancer, HashType, RequestKey, ServerState,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KEYS: usize = 1000;
pub const WEIGHTS: [u32; 5] = [1, 2, 3, 1, 5];

pub fn haproxy_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("haproxy"))
        .chain(["/usr/sbin/haproxy".into(), "/usr/local/sbin/haproxy".into()])
        .find(|p| p.is_file())
}

/// HTTP servers answering their name, until dropped.
pub struct Backends {
    addrs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
}

impl Drop for Backends {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn spawn_backends(n: usize) -> Backends {
    let stop = Arc::new(AtomicBool::new(false));
    let addrs = (0..n)
        .map(|i| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            let addr = l.local_addr().unwrap();
            let stop = Arc::clone(&stop);
            let name = format!("s{}", i + 1);
            std::thread::spawn(move || serve(l, &name, &stop));
            addr
        })
        .collect();
    Backends { addrs, stop }
}

fn serve(l: TcpListener, name: &str, stop: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        match l.accept() {
            Ok((mut c, _)) => {
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = c.write_all(resp.as_bytes());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(_) => break,
        }
    }
}

/// A running haproxy, killed when dropped.
pub struct Haproxy {
    child: Child,
    port: u16,
    sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server roles: the last `backups` servers are `backup`.
#[derive(Clone, Copy, Default)]
pub struct Setup {
    pub backups: usize,
    pub all_backups: bool,
}

impl Setup {
    fn is_backup(&self, i: usize) -> bool {
        i >= WEIGHTS.len() - self.backups
    }
}

pub fn start_haproxy(
    bin: &PathBuf,
    balance: &str,
    hash_type: &str,
    backends: &Backends,
    setup: Setup,
) -> Haproxy {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let sock_text = sock.display();
    // rdp-cookie works on TCP connections: wait for the cookie before balancing.
    let (mode, wait) = if balance.starts_with("rdp-cookie") {
        (
            "tcp",
            "    tcp-request inspect-delay 2s\n    tcp-request content accept if RDP_COOKIE\n",
        )
    } else {
        ("http", "")
    };
    let mut cfg = format!(
        "global\n    maxconn 200\n    stats socket {sock_text} level admin\ndefaults\n    mode {mode}\n    timeout connect 2s\n    \
         timeout client 5s\n    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n\
         {wait}    default_backend be\nbackend be\n    balance {balance}\n    \
         hash-type {hash_type}\n"
    );
    if setup.all_backups {
        cfg += "    option allbackups\n";
    }
    for (i, a) in backends.addrs.iter().enumerate() {
        let role = if setup.is_backup(i) { " backup" } else { "" };
        cfg += &format!("    server s{} {a} weight {}{role}\n", i + 1, WEIGHTS[i]);
    }
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new(bin)
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let h = Haproxy {
        child,
        port,
        sock,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "haproxy did not start ({balance}, {hash_type})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h
}

impl Haproxy {
    /// One runtime-API command on the admin socket.
    fn command(&self, cmd: &str) -> String {
        use std::os::unix::net::UnixStream;
        let mut c = UnixStream::connect(&self.sock).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    }
}

/// A run-time change, applied to haproxy and to the balancer alike.
pub enum Change {
    Weight(usize, u32),
    Maint(usize),
}

/// One request through haproxy; returns the name of the server that answered.
pub fn ask(port: u16, src: Option<Ipv4Addr>, req: &[u8]) -> String {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    if let Some(ip) = src {
        s.bind(&SocketAddr::new(IpAddr::V4(ip), 0).into()).unwrap();
    }
    s.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let mut c: TcpStream = s.into();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(req).unwrap();
    let mut resp = Vec::new();
    let _ = c.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
}

pub fn key(i: usize) -> String {
    // Varied lengths and characters, like real session ids and paths.
    let mut z = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z ^= z >> 29;
    format!("{:x}-{}", z, i % 7)
}

pub fn source_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        127,
        (i / 250 % 250) as u8 + 1,
        (i * 7 % 250) as u8,
        (i % 250) as u8 + 2,
    )
}

pub enum Input {
    Source,
    Path,
    Header,
    /// Domain-like header values, with 0 to 3 dots.
    Domain,
    /// Absolute-form request-targets.
    Absolute,
    /// An RDP connection request carrying `Cookie: mstshash=<key>`.
    Rdp,
    /// A form-encoded POST body carrying `id=<key>`, no query string.
    Post,
}

pub fn rdp_packet(user: &str) -> Vec<u8> {
    let cookie = format!("Cookie: mstshash={user}\r\n");
    let len = 11 + cookie.len() + 2;
    let mut p = vec![
        3,
        0,
        (len >> 8) as u8,
        len as u8,
        (len - 5) as u8,
        0xe0,
        0,
        0,
        0,
        0,
        0,
    ];
    p.extend_from_slice(cookie.as_bytes());
    // An empty line, so the test server sees the end of a "head" and answers.
    p.extend_from_slice(b"\r\n");
    p
}

pub fn parity(balance: &str, hash_type: &str, algo: BalanceAlgo, ht: HashType, input: Input) {
    parity_after(balance, hash_type, algo, ht, input, &[], Setup::default());
}

pub fn parity_after(
    balance: &str,
    hash_type: &str,
    algo: BalanceAlgo,
    ht: HashType,
    input: Input,
    changes: &[Change],
    setup: Setup,
) {
    let Some(bin) = haproxy_binary() else {
        println!("haproxy not found on PATH: skipping the HAProxy parity test");
        return;
    };
    let backends = spawn_backends(WEIGHTS.len());
    let hap = start_haproxy(&bin, balance, hash_type, &backends, setup);
    let servers = WEIGHTS
        .iter()
        .enumerate()
        .map(|(i, &w)| Arc::new(ServerState::new(i as u32 + 1, w, setup.is_backup(i))))
        .collect();
    let opts = BalanceOptions {
        hash_type: ht,
        all_backups: setup.all_backups,
        ..BalanceOptions::default()
    };
    let b = Balancer::new(algo, opts, servers).unwrap();
    for c in changes {
        let (cmd, i) = match *c {
            Change::Weight(i, w) => {
                b.servers()[i].set_weight(w);
                (format!("set weight be/s{} {w}", i + 1), i)
            }
            Change::Maint(i) => {
                b.servers()[i].set_admin(AdminState::Maint);
                (format!("disable server be/s{}", i + 1), i)
            }
        };
        let out = hap.command(&cmd);
        assert!(out.trim().is_empty(), "{cmd}: {out}");
        b.on_server_change(i);
    }
    let mut mismatches = Vec::new();
    for i in 0..KEYS {
        let k = key(i);
        let mut path = format!("/{k}/page?id={k}&x=1");
        let mut host = "test".to_owned();
        let (mut src, mut hdr_key) = (None, "-".to_owned());
        match input {
            Input::Source => src = Some(source_ip(i)),
            Input::Path | Input::Rdp => {}
            Input::Post => path = "/form".to_owned(),
            Input::Header => hdr_key = k.clone(),
            Input::Domain => {
                let k = format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let v = match i % 4 {
                    0 => format!("www.{k}.example.com"),
                    1 => format!("{k}.com"),
                    2 => k,
                    _ => format!("a.b.{k}.org"),
                };
                // All of one length: HAProxy looks at one byte past the value
                // (left over from earlier requests), which must never be a dot: same
                // layout for every request.
                hdr_key = format!("{v:x>32}");
                path = "/".to_owned();
            }
            Input::Absolute => {
                host = format!("h{}.test", i % 5);
                path = format!("http://{host}/{k}/page?id={k}");
            }
        }
        let body = format!("x=1&id={k}&y=2");
        let req = match input {
            Input::Rdp => rdp_packet(&k),
            Input::Post => format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
            _ => format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Key: {hdr_key}\r\n\
                 Connection: close\r\n\r\n"
            )
            .into_bytes(),
        };
        let got = ask(hap.port, src, &req);
        let headers = [("X-Key", hdr_key.as_bytes())];
        let rk = RequestKey {
            source: src.map(IpAddr::V4),
            uri: Some(path.as_bytes()),
            headers: &headers,
            payload: Some(&req),
            hash_input: Some(hdr_key.as_bytes()),
            post_body: matches!(input, Input::Post).then_some(body.as_bytes()),
            ..RequestKey::default()
        };
        let pick = b.select(&rk);
        // The request is over before the next one starts, as in HAProxy.
        if let Some(i) = pick {
            b.take_conn(i);
            b.drop_conn(i);
        }
        let ours = pick.map(|i| format!("s{}", i + 1)).unwrap_or_default();
        if got != ours {
            mismatches.push((hdr_key.clone(), got, ours));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{balance} / {hash_type}: {} of {KEYS} keys differ, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}
