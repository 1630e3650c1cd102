//! A fake transaction built from raw HTTP text, and a tiny config-line compiler for tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use fulcrum_config::diag::Span;
use fulcrum_config::rules as ast;
use fulcrum_rules::view::{Effect, RequestView, ResponseView, SessionView, Stats};
use fulcrum_rules::{compile_proxy, CompileEnv, CompiledProxy, ProxyInput, RuleError, Vars};

#[derive(Default)]
pub struct FakeStats {
    pub nbsrv: HashMap<String, i64>,
}

impl Stats for FakeStats {
    fn nbsrv(&self, b: &str) -> Option<i64> {
        self.nbsrv.get(b).copied()
    }
    fn be_conn(&self, _: &str) -> Option<i64> {
        Some(0)
    }
    fn fe_conn(&self, _: &str) -> Option<i64> {
        Some(1)
    }
    fn connslots(&self, _: &str) -> Option<i64> {
        None
    }
    fn srv_conn(&self, _: &str, _: &str) -> Option<i64> {
        None
    }
    fn srv_is_up(&self, _: &str, s: &str) -> Option<bool> {
        Some(s == "up")
    }
    fn queue(&self, _: &str) -> Option<i64> {
        Some(0)
    }
    fn avg_queue(&self, _: &str) -> Option<i64> {
        Some(0)
    }
}

pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

pub struct Fake {
    pub method: Vec<u8>,
    pub uri: Vec<u8>,
    pub version: Vec<u8>,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub status: u16,
    pub res_headers: Headers,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub vars: Vars,
    pub stats: FakeStats,
    pub effects: Vec<String>,
    pub payload: Vec<u8>,
    /// Stick counters by `sc0:http_req_rate` / `src:conn_rate`.
    pub sticks: HashMap<String, i64>,
    /// `false` while the inspect delay runs.
    pub wait_ended: bool,
}

fn parse_headers(lines: &mut std::str::Split<'_, &str>) -> Headers {
    let mut h = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').expect("header line");
        h.push((n.as_bytes().to_vec(), v.trim().as_bytes().to_vec()));
    }
    h
}

impl Fake {
    /// `raw` uses `\n` or `\r\n` line ends.
    pub fn request(raw: &str) -> Fake {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut lines = head.split("\n");
        let first = lines.next().unwrap();
        let mut parts = first.split(' ');
        let method = parts.next().unwrap().as_bytes().to_vec();
        let uri = parts.next().unwrap().as_bytes().to_vec();
        let version = parts.next().unwrap_or("HTTP/1.1").as_bytes().to_vec();
        let headers = parse_headers(&mut lines);
        Fake {
            method,
            uri,
            version,
            headers,
            body: body.as_bytes().to_vec(),
            status: 0,
            res_headers: Vec::new(),
            src: "192.0.2.10:40000".parse().unwrap(),
            dst: "127.0.0.1:80".parse().unwrap(),
            vars: Vars::default(),
            stats: FakeStats::default(),
            effects: Vec::new(),
            payload: raw.as_bytes().to_vec(),
            sticks: HashMap::new(),
            wait_ended: true,
        }
    }

    pub fn with_response(mut self, status: u16, headers: &[(&str, &str)]) -> Fake {
        self.status = status;
        self.res_headers = headers
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        self
    }

    pub fn hdr(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    pub fn res_hdr(&self, name: &str) -> Vec<String> {
        self.res_headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

impl SessionView for Fake {
    fn src(&self) -> Option<SocketAddr> {
        Some(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        Some(self.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        ("fe_web", 1)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        None
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &self.stats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
    fn payload(&self) -> &[u8] {
        &self.payload
    }
    fn env(&self, name: &str) -> Option<String> {
        (name == "FULCRUM_TEST_ENV").then(|| "from-env".to_string())
    }
    fn effect(&mut self, e: Effect<'_>) {
        self.effects.push(format!("{e:?}"));
    }
    fn wait_ended(&self) -> bool {
        self.wait_ended
    }
    fn unique_id(&self) -> Option<&[u8]> {
        Some(b"uid-1")
    }
    fn captured_header(&self, response: bool, slot: usize) -> Option<&[u8]> {
        (!response && slot == 0).then_some(&b"captured-host"[..])
    }
    fn stick_counter(&self, q: &fulcrum_rules::StickQuery<'_>) -> Option<i64> {
        let who = q.tracked.map_or("src".to_string(), |n| format!("sc{n}"));
        self.sticks.get(&format!("{who}:{}", q.counter)).copied()
    }
}

impl RequestView for Fake {
    fn method(&self) -> &[u8] {
        &self.method
    }
    fn uri(&self) -> &[u8] {
        &self.uri
    }
    fn version(&self) -> &[u8] {
        &self.version
    }
    fn header_count(&self) -> usize {
        self.headers.len()
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.headers
            .get(i)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    fn body(&self) -> &[u8] {
        &self.body
    }
    fn set_method(&mut self, m: &[u8]) {
        self.method = m.to_vec();
    }
    fn set_uri(&mut self, u: &[u8]) {
        self.uri = u.to_vec();
    }
    fn add_header(&mut self, n: &[u8], v: &[u8]) {
        self.headers.push((n.to_vec(), v.to_vec()));
    }
    fn set_header_value(&mut self, i: usize, v: &[u8]) {
        if let Some(h) = self.headers.get_mut(i) {
            h.1 = v.to_vec();
        }
    }
    fn remove_header(&mut self, i: usize) {
        if i < self.headers.len() {
            self.headers.remove(i);
        }
    }
}

impl ResponseView for Fake {
    fn status(&self) -> u16 {
        self.status
    }
    fn res_version(&self) -> &[u8] {
        b"HTTP/1.1"
    }
    fn res_header_count(&self) -> usize {
        self.res_headers.len()
    }
    fn res_header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.res_headers
            .get(i)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    fn set_status(&mut self, s: u16, _reason: Option<&[u8]>) {
        self.status = s;
    }
    fn res_add_header(&mut self, n: &[u8], v: &[u8]) {
        self.res_headers.push((n.to_vec(), v.to_vec()));
    }
    fn res_set_header_value(&mut self, i: usize, v: &[u8]) {
        if let Some(h) = self.res_headers.get_mut(i) {
            h.1 = v.to_vec();
        }
    }
    fn res_remove_header(&mut self, i: usize) {
        if i < self.res_headers.len() {
            self.res_headers.remove(i);
        }
    }
}

/// Splits a line into words: spaces separate, double quotes group, `\ ` escapes a space.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut q = false;
    let mut any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                q = !q;
                any = true;
            }
            '\\' if !q => {
                if let Some(n) = chars.next() {
                    if n != ' ' {
                        cur.push('\\');
                    }
                    cur.push(n);
                    any = true;
                }
            }
            ' ' | '\t' if !q => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[derive(Default)]
pub struct Parsed {
    pub acls: Vec<ast::AclDef>,
    pub req: Vec<ast::HttpRule>,
    pub res: Vec<ast::HttpRule>,
    pub after: Vec<ast::HttpRule>,
    pub tcp_req: Vec<ast::TcpRule>,
    pub tcp_res: Vec<ast::TcpRule>,
    pub use_backend: Vec<ast::UseTarget>,
    pub use_server: Vec<ast::UseTarget>,
    pub default_backend: Option<String>,
    pub extra: Vec<ast::Condition>,
    pub warnings: Vec<String>,
}

/// Parses proxy lines the way the section parser would dispatch them.
pub fn parse(cfg: &str) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    for (i, line) in cfg.lines().enumerate() {
        let w = words(line.trim());
        let Some((kw, rest)) = w.split_first() else {
            continue;
        };
        let span = Span::new("t.cfg", i as u32 + 1);
        let err = |d: fulcrum_config::Diagnostic| d.to_string();
        match kw.as_str() {
            "acl" => p.acls.push(ast::parse_acl(rest, &span).map_err(err)?),
            "http-request" => p
                .req
                .push(ast::parse_http_request(rest, &span).map_err(err)?),
            "http-response" => p
                .res
                .push(ast::parse_http_response(rest, &span).map_err(err)?),
            "http-after-response" => p
                .after
                .push(ast::parse_http_after_response(rest, &span).map_err(err)?),
            "tcp-request" => p
                .tcp_req
                .push(ast::parse_tcp_request(rest, &span).map_err(err)?),
            "tcp-response" => p
                .tcp_res
                .push(ast::parse_tcp_response(rest, &span).map_err(err)?),
            "use_backend" => p
                .use_backend
                .push(ast::parse_use_target(rest, &span).map_err(err)?),
            "use-server" => p
                .use_server
                .push(ast::parse_use_target(rest, &span).map_err(err)?),
            "default_backend" => p.default_backend = rest.first().cloned(),
            "monitor" => p
                .extra
                .push(ast::parse_condition(&rest[1..], &span).map_err(err)?),
            kw => {
                let (rule, warn) = ast::parse_legacy(kw, rest, &span).map_err(err)?;
                p.warnings.push(warn.to_string());
                if rule.phase == ast::HttpPhase::Request {
                    p.req.push(rule);
                } else {
                    p.res.push(rule);
                }
            }
        }
    }
    Ok(p)
}

pub fn compile_with(cfg: &str, env: &CompileEnv) -> Result<CompiledProxy, Vec<RuleError>> {
    let p = parse(cfg).unwrap_or_else(|e| panic!("parse: {e}"));
    let input = ProxyInput {
        name: "fe_web",
        acls: &p.acls,
        http_request: &p.req,
        http_response: &p.res,
        http_after_response: &p.after,
        tcp_request: &p.tcp_req,
        tcp_response: &p.tcp_res,
        use_backend: &p.use_backend,
        default_backend: p.default_backend.as_deref(),
        use_server: &p.use_server,
        extra: &p.extra,
        ..Default::default()
    };
    compile_proxy(&input, env)
}

pub fn compile(cfg: &str) -> CompiledProxy {
    compile_with(cfg, &CompileEnv::new(".")).unwrap_or_else(|e| panic!("compile: {e:?}"))
}
