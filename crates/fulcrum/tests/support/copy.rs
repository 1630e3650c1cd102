//! Runnable copies of a seed: addresses and ports → 127.0.0.1 and free ports, paths → a temp
//! dir, user/group/uid/gid and `daemon` dropped where the test cannot honour them. Each line
//! is rewritten in place, so line numbers in fulcrum's messages still match the seed.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What kind of line an address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bind,
    Server,
    /// A `log` target: a UDP port the test may listen on for syslog lines.
    Log,
    StatsSocket,
}

/// One rewritten address: where it was, what it said, what it is now.
#[derive(Debug, Clone)]
pub struct Entry {
    pub line: usize,
    pub section: String,
    pub kind: Kind,
    /// Server name for `server` lines, "" otherwise.
    pub name: String,
    pub original: String,
    pub addr: SocketAddr,
}

/// Knobs for a copy; the default is what most tests want.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Keep `daemon` (the one test that runs fulcrum in the background).
    pub keep_daemon: bool,
    /// Leave `errorfile` targets missing (to see the error), instead of creating them.
    pub no_errorfiles: bool,
    /// For `-c` on the verbatim file: only the `errorfile` paths move (to the temp dir).
    pub check_only: bool,
}

/// The original → new address map of a copy, plus the temp dir its paths point into.
#[derive(Debug)]
pub struct PortMap {
    pub dir: PathBuf,
    pub opts: CopyOptions,
    pub entries: Vec<Entry>,
    /// Every `errorfile` the copy names, by status code, with the bytes written there.
    pub errorfiles: Vec<(u16, PathBuf, Vec<u8>)>,
}

impl PortMap {
    pub fn new(dir: &Path, opts: CopyOptions) -> PortMap {
        PortMap {
            dir: dir.to_path_buf(),
            opts,
            entries: Vec::new(),
            errorfiles: Vec::new(),
        }
    }

    /// First `bind` of `section`.
    pub fn bind(&self, section: &str) -> SocketAddr {
        self.find(|e| e.kind == Kind::Bind && e.section == section)
            .unwrap_or_else(|| panic!("no bind in section '{section}'"))
    }

    /// Address of server `name` in `section` (each `server` line gets its own port, so
    /// backends sharing an address in the seed stay distinguishable).
    pub fn server(&self, section: &str, name: &str) -> SocketAddr {
        self.find(|e| e.kind == Kind::Server && e.section == section && e.name == name)
            .unwrap_or_else(|| panic!("no server '{name}' in section '{section}'"))
    }

    /// The `index`-th `log` target of `section` ("global" for the global ones).
    pub fn log(&self, section: &str, index: usize) -> SocketAddr {
        self.entries
            .iter()
            .filter(|e| e.kind == Kind::Log && e.section == section)
            .nth(index)
            .map(|e| e.addr)
            .unwrap_or_else(|| panic!("no log target {index} in section '{section}'"))
    }

    pub fn binds(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.entries
            .iter()
            .filter(|e| e.kind == Kind::Bind)
            .map(|e| e.addr)
    }

    /// The bytes of the error file written for `code`.
    pub fn errorfile(&self, code: u16) -> Vec<u8> {
        self.errorfiles
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, _, b)| b.clone())
            .unwrap_or_else(|| panic!("no errorfile {code} in the copy"))
    }

    fn find(&self, pred: impl Fn(&Entry) -> bool) -> Option<SocketAddr> {
        self.entries.iter().find(|e| pred(e)).map(|e| e.addr)
    }

    /// A TCP port free right now on 127.0.0.1 and not yet handed out in this process
    /// (tests run in parallel; the kernel may offer a port another copy already holds).
    fn tcp_port(&mut self) -> u16 {
        for _ in 0..100 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("bind 127.0.0.1:0");
            if USED.lock().map(|mut u| u.insert(port)).unwrap_or(true) {
                return port;
            }
        }
        panic!("no free TCP port after 100 tries");
    }

    fn udp_port(&mut self) -> u16 {
        for _ in 0..100 {
            let port = UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .map(|a| a.port())
                .expect("bind udp 127.0.0.1:0");
            if USED.lock().map(|mut u| u.insert(port)).unwrap_or(true) {
                return port;
            }
        }
        panic!("no free UDP port after 100 tries");
    }
}

static USED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "cache",
    "ring",
];

/// Byte ranges of the words of a line, up to a `#` comment.
fn words(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            if c == '#' {
                return out;
            }
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// Rewrites a seed into a runnable copy (see the module doc). Everything not listed there
/// stays byte for byte; `ports` learns every new address and error file.
pub fn runnable_copy(text: &str, ports: &mut PortMap) -> String {
    let root = super::is_root();
    let mut section = String::new();
    let mut out = Vec::new();
    for (idx, line) in text.split('\n').enumerate() {
        let lineno = idx + 1;
        let w = words(line);
        let word = |i: usize| w.get(i).map(|&(s, e)| &line[s..e]).unwrap_or("");
        let kw = word(0);
        if SECTIONS.contains(&kw) {
            section = if kw == "global" || kw == "defaults" {
                kw.to_string()
            } else {
                word(1).to_string()
            };
            out.push(line.to_string());
            continue;
        }
        // (word index, replacement) pairs applied right to left.
        let mut edits: Vec<(usize, String)> = Vec::new();
        let mut drop_line = false;
        let kw = if ports.opts.check_only && kw != "errorfile" {
            ""
        } else {
            kw
        };
        match kw {
            "bind" if w.len() > 1 => {
                let port = ports.tcp_port();
                record(ports, lineno, &section, Kind::Bind, "", word(1), port);
                edits.push((1, format!("127.0.0.1:{port}")));
            }
            "server" if w.len() > 2 => {
                let port = ports.tcp_port();
                record(
                    ports,
                    lineno,
                    &section,
                    Kind::Server,
                    word(1),
                    word(2),
                    port,
                );
                edits.push((2, format!("127.0.0.1:{port}")));
                // `check port N` / `addr X` would aim checks elsewhere: same new address.
                for i in 3..w.len() {
                    match word(i) {
                        "port" if i + 1 < w.len() => edits.push((i + 1, port.to_string())),
                        "addr" if i + 1 < w.len() => edits.push((i + 1, "127.0.0.1".into())),
                        _ => {}
                    }
                }
            }
            "log" if w.len() > 1 && !["global", "stdout", "stderr"].contains(&word(1)) => {
                let port = ports.udp_port();
                record(ports, lineno, &section, Kind::Log, "", word(1), port);
                edits.push((1, format!("127.0.0.1:{port}")));
            }
            "stats" if word(1) == "socket" && w.len() > 2 => {
                let target = word(2);
                if target.starts_with('/') || target.starts_with("unix@") {
                    let path = path_in(ports, target, 1);
                    if let Some(parent) = Path::new(&path).parent() {
                        std::fs::create_dir_all(parent).expect("create socket dir");
                    }
                    edits.push((2, path));
                } else {
                    let port = ports.tcp_port();
                    record(ports, lineno, &section, Kind::StatsSocket, "", target, port);
                    edits.push((2, format!("127.0.0.1:{port}")));
                }
            }
            "chroot" if w.len() > 1 => {
                if root {
                    let dir = ports.dir.join("chroot");
                    std::fs::create_dir_all(&dir).expect("create chroot dir");
                    edits.push((1, dir.display().to_string()));
                } else {
                    drop_line = true;
                }
            }
            "pidfile" if w.len() > 1 => edits.push((1, path_in(ports, word(1), 0))),
            "errorfile" if w.len() > 2 => {
                let path = path_in(ports, word(2), 1);
                if let Ok(code) = word(1).parse::<u16>() {
                    let bytes = errorfile_bytes(code, word(2));
                    if !ports.opts.no_errorfiles {
                        let p = PathBuf::from(&path);
                        if let Some(parent) = p.parent() {
                            std::fs::create_dir_all(parent).expect("create errorfile dir");
                        }
                        std::fs::write(&p, &bytes).expect("write errorfile");
                    }
                    ports.errorfiles.push((code, PathBuf::from(&path), bytes));
                }
                edits.push((2, path));
            }
            "user" | "group" => drop_line = !(root && name_resolves(kw, word(1))),
            "uid" | "gid" => drop_line = !root,
            "daemon" => drop_line = !ports.opts.keep_daemon,
            _ => {}
        }
        if drop_line {
            let indent = &line[..w.first().map_or(0, |&(s, _)| s)];
            out.push(format!(
                "{indent}# dropped for the test: {}",
                &line[indent.len()..]
            ));
            continue;
        }
        let mut new = line.to_string();
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (i, rep) in edits {
            let (s, e) = w[i];
            new.replace_range(s..e, &rep);
        }
        out.push(new);
    }
    out.join("\n")
}

fn record(
    ports: &mut PortMap,
    line: usize,
    section: &str,
    kind: Kind,
    name: &str,
    original: &str,
    port: u16,
) {
    ports.entries.push(Entry {
        line,
        section: section.to_string(),
        kind,
        name: name.to_string(),
        original: original.to_string(),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    });
}

/// `/etc/haproxy/errors/503.http` → `<dir>/errors/503.http` (keeping `parents` directory
/// names, so two seeds' error dirs stay apart).
fn path_in(ports: &PortMap, original: &str, parents: usize) -> String {
    let p = Path::new(original.trim_start_matches("unix@"));
    let comps: Vec<_> = p.components().collect();
    let keep = comps.len().min(parents + 1);
    let mut out = ports.dir.clone();
    for c in &comps[comps.len() - keep..] {
        out.push(c);
    }
    out.display().to_string()
}

fn name_resolves(kind: &str, name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: lookups with a valid C string; only the null-ness of the result is read.
    unsafe {
        if kind == "user" {
            !libc::getpwnam(c.as_ptr()).is_null()
        } else {
            !libc::getgrnam(c.as_ptr()).is_null()
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "Bad request",
        403 => "Forbidden",
        408 => "Request Time-out",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        _ => "Error",
    }
}

/// An error file in HAProxy's format (a complete HTTP response, as Debian ships them), with
/// a body naming the file so a test can tell it from a built-in page.
pub fn errorfile_bytes(code: u16, original: &str) -> Vec<u8> {
    let body = format!(
        "<html><body><h1>{code} {}</h1>\nServed from the test copy of {original}.\n</body></html>\n",
        reason(code)
    );
    format!(
        "HTTP/1.0 {code} {}\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        reason(code),
        body.len()
    )
    .into_bytes()
}
