//! HAProxy 2.6's stat fields (management.txt §9.1): names, order, type tags,
//! and which fields each row type fills.

use super::{BackendStats, CheckStats, FrontendStats, ProxyStats, ServerStats, Traffic};

macro_rules! fields {
    ($($v:ident = $name:literal $tags:literal;)*) => {
        /// One CSV column, in HAProxy's order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Field { $($v,)* }
        /// Column names, in order (the CSV header without `# `).
        pub const FIELD_NAMES: &[&str] = &[$($name,)*];
        /// Origin/nature/scope tags of the typed format, e.g. `MCP`.
        pub(crate) const FIELD_TAGS: &[&str] = &[$($tags,)*];
    };
}

fields! {
    PxName = "pxname" "KNS";
    SvName = "svname" "KNS";
    QCur = "qcur" "MGP";
    QMax = "qmax" "MMP";
    SCur = "scur" "MGP";
    SMax = "smax" "MMP";
    SLim = "slim" "CLP";
    STot = "stot" "MCP";
    BIn = "bin" "MCP";
    BOut = "bout" "MCP";
    DReq = "dreq" "MCP";
    DResp = "dresp" "MCP";
    EReq = "ereq" "MCP";
    ECon = "econ" "MCP";
    EResp = "eresp" "MCP";
    WRetr = "wretr" "MCP";
    WRedis = "wredis" "MCP";
    Status = "status" "SOP";
    Weight = "weight" "MaP";
    Act = "act" "MGP";
    Bck = "bck" "MGP";
    ChkFail = "chkfail" "MCP";
    ChkDown = "chkdown" "MCP";
    LastChg = "lastchg" "MAP";
    Downtime = "downtime" "MDP";
    QLimit = "qlimit" "CLP";
    Pid = "pid" "KOP";
    Iid = "iid" "KOS";
    Sid = "sid" "KOS";
    Throttle = "throttle" "MaP";
    LbTot = "lbtot" "MCP";
    Tracked = "tracked" "CNP";
    Type = "type" "COP";
    Rate = "rate" "MRP";
    RateLim = "rate_lim" "CLP";
    RateMax = "rate_max" "MMP";
    CheckStatus = "check_status" "SOP";
    CheckCode = "check_code" "MOP";
    CheckDuration = "check_duration" "MDP";
    Hrsp1xx = "hrsp_1xx" "MCP";
    Hrsp2xx = "hrsp_2xx" "MCP";
    Hrsp3xx = "hrsp_3xx" "MCP";
    Hrsp4xx = "hrsp_4xx" "MCP";
    Hrsp5xx = "hrsp_5xx" "MCP";
    HrspOther = "hrsp_other" "MCP";
    HanaFail = "hanafail" "MCP";
    ReqRate = "req_rate" "MRP";
    ReqRateMax = "req_rate_max" "MMP";
    ReqTot = "req_tot" "MCP";
    CliAbrt = "cli_abrt" "MCP";
    SrvAbrt = "srv_abrt" "MCP";
    CompIn = "comp_in" "MCP";
    CompOut = "comp_out" "MCP";
    CompByp = "comp_byp" "MCP";
    CompRsp = "comp_rsp" "MCP";
    LastSess = "lastsess" "MAP";
    LastChk = "last_chk" "MOP";
    LastAgt = "last_agt" "MOP";
    QTime = "qtime" "MaP";
    CTime = "ctime" "MaP";
    RTime = "rtime" "MaP";
    TTime = "ttime" "MaP";
    AgentStatus = "agent_status" "SOP";
    AgentCode = "agent_code" "MOP";
    AgentDuration = "agent_duration" "MDP";
    CheckDesc = "check_desc" "MOP";
    AgentDesc = "agent_desc" "MOP";
    CheckRise = "check_rise" "MOP";
    CheckFall = "check_fall" "MOP";
    CheckHealth = "check_health" "SOP";
    AgentRise = "agent_rise" "MaP";
    AgentFall = "agent_fall" "MaP";
    AgentHealth = "agent_health" "SOP";
    Addr = "addr" "COS";
    Cookie = "cookie" "CNP";
    Mode = "mode" "COP";
    Algo = "algo" "COP";
    ConnRate = "conn_rate" "MRP";
    ConnRateMax = "conn_rate_max" "MMP";
    ConnTot = "conn_tot" "MCP";
    Intercepted = "intercepted" "MCP";
    DCon = "dcon" "MCP";
    DSes = "dses" "MCP";
    WRew = "wrew" "MCP";
    Connect = "connect" "MCP";
    Reuse = "reuse" "MCP";
    CacheLookups = "cache_lookups" "MCP";
    CacheHits = "cache_hits" "MCP";
    SrvICur = "srv_icur" "MGP";
    SrcILim = "src_ilim" "MaP";
    QTimeMax = "qtime_max" "MMP";
    CTimeMax = "ctime_max" "MMP";
    RTimeMax = "rtime_max" "MMP";
    TTimeMax = "ttime_max" "MMP";
    EInt = "eint" "MCP";
    IdleConnCur = "idle_conn_cur" "MGP";
    SafeConnCur = "safe_conn_cur" "MGP";
    UsedConnCur = "used_conn_cur" "MGP";
    NeedConnEst = "need_conn_est" "MGP";
    UWeight = "uweight" "MaP";
    AggServerStatus = "agg_server_status" "MGP";
    AggServerCheckStatus = "agg_server_check_status" "MGP";
    AggCheckStatus = "agg_check_status" "MGP";
    // End of HAProxy's static fields; module fields follow (ssl, h2), as a
    // Debian HAProxy 2.6 built with OpenSSL prints them.
    Dash = "-" "MGP";
    SslSess = "ssl_sess" "MCP";
    SslReusedSess = "ssl_reused_sess" "MCP";
    SslFailedHandshake = "ssl_failed_handshake" "MCP";
    H2HeadersRcvd = "h2_headers_rcvd" "MCP";
    H2DataRcvd = "h2_data_rcvd" "MCP";
    H2SettingsRcvd = "h2_settings_rcvd" "MCP";
    H2RstStreamRcvd = "h2_rst_stream_rcvd" "MCP";
    H2GoawayRcvd = "h2_goaway_rcvd" "MCP";
    H2DetectedConnProtocolErrors = "h2_detected_conn_protocol_errors" "MCP";
    H2DetectedStrmProtocolErrors = "h2_detected_strm_protocol_errors" "MCP";
    H2RstStreamResp = "h2_rst_stream_resp" "MCP";
    H2GoawayResp = "h2_goaway_resp" "MCP";
    H2OpenConnections = "h2_open_connections" "MGP";
    H2BackendOpenStreams = "h2_backend_open_streams" "MGP";
    H2TotalConnections = "h2_total_connections" "MCP";
    H2BackendTotalStreams = "h2_backend_total_streams" "MCP";
}

/// A row's kind, with HAProxy's `type` numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjType {
    Frontend = 0,
    Backend = 1,
    Server = 2,
    Listener = 3,
}

impl ObjType {
    pub fn json_name(self) -> &'static str {
        match self {
            ObjType::Frontend => "Frontend",
            ObjType::Backend => "Backend",
            ObjType::Server => "Server",
            ObjType::Listener => "Listener",
        }
    }
    pub fn letter(self) -> char {
        match self {
            ObjType::Frontend => 'F',
            ObjType::Backend => 'B',
            ObjType::Server => 'S',
            ObjType::Listener => 'L',
        }
    }
}

/// One field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    U32(u32),
    U64(u64),
    S32(i32),
    Str(String),
}

impl FieldValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::U32(_) => "u32",
            FieldValue::U64(_) => "u64",
            FieldValue::S32(_) => "s32",
            FieldValue::Str(_) => "str",
        }
    }
}

impl std::fmt::Display for FieldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldValue::U32(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::S32(v) => write!(f, "{v}"),
            FieldValue::Str(s) => f.write_str(s),
        }
    }
}

/// One CSV line: a value (or nothing) per field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub ty: ObjType,
    pub iid: u32,
    pub sid: u32,
    pub values: Vec<Option<FieldValue>>,
}

impl Row {
    fn new(ty: ObjType, px: &ProxyStats, svname: &str, sid: u32, pid: u32) -> Row {
        let mut r = Row {
            ty,
            iid: px.iid,
            sid,
            values: vec![None; FIELD_NAMES.len()],
        };
        r.str(Field::PxName, &px.name);
        r.str(Field::SvName, svname);
        r.u32(Field::Pid, pid);
        r.u32(Field::Iid, px.iid);
        r.u32(Field::Sid, sid);
        r.u32(Field::Type, ty as u32);
        r.str(Field::Mode, px.mode.as_str());
        r
    }
    pub fn get(&self, f: Field) -> Option<&FieldValue> {
        self.values.get(f as usize).and_then(Option::as_ref)
    }
    fn set(&mut self, f: Field, v: FieldValue) {
        if let Some(slot) = self.values.get_mut(f as usize) {
            *slot = Some(v);
        }
    }
    fn u32(&mut self, f: Field, v: u32) {
        self.set(f, FieldValue::U32(v));
    }
    fn u64(&mut self, f: Field, v: u64) {
        self.set(f, FieldValue::U64(v));
    }
    fn str(&mut self, f: Field, v: &str) {
        self.set(f, FieldValue::Str(v.to_string()));
    }
    fn opt_u32(&mut self, f: Field, v: Option<u32>) {
        if let Some(v) = v {
            self.u32(f, v);
        }
    }
    fn secs(&mut self, f: Field, v: u64) {
        self.u32(f, u32::try_from(v).unwrap_or(u32::MAX));
    }

    /// Fields every type shares: sessions, bytes, denials, rewrites.
    fn sessions(&mut self, t: &Traffic) {
        self.u32(Field::SCur, t.scur);
        self.u32(Field::SMax, t.smax);
        self.u64(Field::STot, t.stot);
        self.u64(Field::BIn, t.bin);
        self.u64(Field::BOut, t.bout);
        self.u64(Field::DResp, t.dresp);
        self.u64(Field::WRew, t.wrew);
        self.u64(Field::EInt, t.eint);
    }

    fn ssl(&mut self, t: &Traffic) {
        self.u64(Field::SslSess, t.ssl_sess);
        self.u64(Field::SslReusedSess, t.ssl_reused_sess);
        self.u64(Field::SslFailedHandshake, t.ssl_failed_handshake);
    }

    /// The h2 module's counters, on frontends and backends.
    fn h2(&mut self, t: &Traffic) {
        self.ssl(t);
        let first = Field::H2HeadersRcvd as usize;
        for (i, v) in t.h2.iter().enumerate() {
            if let Some(slot) = self.values.get_mut(first + i) {
                *slot = Some(FieldValue::U64(*v));
            }
        }
    }

    fn http(&mut self, t: &Traffic, http: bool) {
        if !http {
            return;
        }
        let f = [
            Field::Hrsp1xx,
            Field::Hrsp2xx,
            Field::Hrsp3xx,
            Field::Hrsp4xx,
            Field::Hrsp5xx,
            Field::HrspOther,
        ];
        for (f, v) in f.into_iter().zip(t.hrsp) {
            self.u64(f, v);
        }
    }

    /// Fields backends and servers share: queues, errors, warnings, times.
    fn be_side(&mut self, t: &Traffic, http: bool) {
        self.u32(Field::QCur, t.qcur);
        self.u32(Field::QMax, t.qmax);
        self.u64(Field::ECon, t.econ);
        self.u64(Field::EResp, t.eresp);
        self.u64(Field::WRetr, t.wretr);
        self.u64(Field::WRedis, t.wredis);
        self.u32(Field::Rate, t.rate);
        self.u32(Field::RateMax, t.rate_max);
        self.u64(Field::CliAbrt, t.cli_abrt);
        self.u64(Field::SrvAbrt, t.srv_abrt);
        self.set(
            Field::LastSess,
            FieldValue::S32(
                t.lastsess
                    .map_or(-1, |s| i32::try_from(s).unwrap_or(i32::MAX)),
            ),
        );
        self.u32(Field::QTime, t.qtime);
        self.u32(Field::CTime, t.ctime);
        self.u32(Field::RTime, if http { t.rtime } else { 0 });
        self.u32(Field::TTime, t.ttime);
        self.u32(Field::QTimeMax, t.qtime_max);
        self.u32(Field::CTimeMax, t.ctime_max);
        self.u32(Field::RTimeMax, if http { t.rtime_max } else { 0 });
        self.u32(Field::TTimeMax, t.ttime_max);
        self.u64(Field::Connect, t.connect);
        self.u64(Field::Reuse, t.reuse);
        self.http(t, http);
    }

    fn check(&mut self, c: &CheckStats, agent: bool) {
        let status = if c.running {
            format!("* {}", c.status)
        } else {
            c.status.clone()
        };
        let (st, code, dur, desc, last, rise, fall, health) = if agent {
            (
                Field::AgentStatus,
                Field::AgentCode,
                Field::AgentDuration,
                Field::AgentDesc,
                Field::LastAgt,
                Field::AgentRise,
                Field::AgentFall,
                Field::AgentHealth,
            )
        } else {
            (
                Field::CheckStatus,
                Field::CheckCode,
                Field::CheckDuration,
                Field::CheckDesc,
                Field::LastChk,
                Field::CheckRise,
                Field::CheckFall,
                Field::CheckHealth,
            )
        };
        self.str(st, &status);
        self.opt_u32(code, c.code);
        if let Some(d) = c.duration_ms {
            self.u64(dur, d);
        }
        self.str(desc, &c.desc);
        self.str(last, &c.last);
        self.u32(rise, c.rise);
        self.u32(fall, c.fall);
        self.u32(health, c.health);
    }
}

pub(crate) fn frontend_row(px: &ProxyStats, fe: &FrontendStats, pid: u32) -> Row {
    let http = px.mode == super::ProxyMode::Http;
    let t = &fe.traffic;
    let mut r = Row::new(ObjType::Frontend, px, "FRONTEND", 0, pid);
    r.sessions(t);
    r.u32(Field::SLim, fe.slim);
    r.u64(Field::DReq, t.dreq);
    r.u64(Field::EReq, t.ereq);
    r.str(Field::Status, fe.status.as_str());
    r.u32(Field::Rate, t.rate);
    r.u32(Field::RateLim, fe.rate_lim.unwrap_or(0));
    r.u32(Field::RateMax, t.rate_max);
    r.http(t, http);
    if http {
        r.u32(Field::ReqRate, t.req_rate);
        r.u32(Field::ReqRateMax, t.req_rate_max);
        r.u64(Field::ReqTot, t.req_tot);
        r.u64(Field::CompIn, t.comp_in);
        r.u64(Field::CompOut, t.comp_out);
        r.u64(Field::CompByp, t.comp_byp);
        r.u64(Field::CompRsp, t.comp_rsp);
        r.u64(Field::Intercepted, t.intercepted);
        r.u64(Field::CacheLookups, t.cache_lookups);
        r.u64(Field::CacheHits, t.cache_hits);
    }
    r.u32(Field::ConnRate, t.conn_rate);
    r.u32(Field::ConnRateMax, t.conn_rate_max);
    r.u64(Field::ConnTot, t.conn_tot);
    r.u64(Field::DCon, t.dcon);
    r.u64(Field::DSes, t.dses);
    r.h2(t);
    r
}

pub(crate) fn server_row(px: &ProxyStats, sv: &ServerStats, pid: u32, legends: bool) -> Row {
    let http = px.mode == super::ProxyMode::Http;
    let t = &sv.traffic;
    let mut r = Row::new(ObjType::Server, px, &sv.name, sv.sid, pid);
    r.sessions(t);
    r.be_side(t, http);
    r.opt_u32(Field::SLim, sv.slim);
    r.str(Field::Status, &sv.status.as_string());
    r.u32(Field::Weight, sv.weight);
    r.u32(Field::UWeight, sv.uweight);
    r.u32(Field::Act, u32::from(!sv.backup));
    r.u32(Field::Bck, u32::from(sv.backup));
    if sv.check.is_some() {
        r.u64(Field::ChkFail, sv.chkfail);
        r.u64(Field::ChkDown, sv.chkdown);
    }
    if let Some(h) = sv.hanafail {
        r.u64(Field::HanaFail, h);
    }
    if http {
        r.u64(Field::ReqTot, t.req_tot);
    }
    r.secs(Field::LastChg, sv.lastchg);
    if sv.check.is_some() {
        r.secs(Field::Downtime, sv.downtime);
    }
    r.opt_u32(Field::QLimit, sv.qlimit);
    r.opt_u32(Field::Throttle, sv.throttle);
    r.u64(Field::LbTot, sv.lbtot);
    if let Some(t) = &sv.tracked {
        r.str(Field::Tracked, t);
    }
    if let Some(c) = &sv.check {
        r.check(c, false);
    }
    if let Some(a) = &sv.agent {
        r.check(a, true);
    }
    if legends {
        r.str(Field::Addr, &sv.addr);
        if let Some(c) = &sv.cookie {
            r.str(Field::Cookie, c);
        }
    }
    r.u32(Field::SrvICur, sv.srv_icur);
    r.opt_u32(Field::SrcILim, sv.src_ilim);
    r.u32(Field::IdleConnCur, sv.idle_conn_cur);
    r.u32(Field::SafeConnCur, sv.safe_conn_cur);
    r.u32(Field::UsedConnCur, sv.used_conn_cur);
    r.u32(Field::NeedConnEst, sv.need_conn_est);
    r.ssl(t);
    r
}

pub(crate) fn backend_row(px: &ProxyStats, be: &BackendStats, pid: u32, legends: bool) -> Row {
    let http = px.mode == super::ProxyMode::Http;
    let t = &be.traffic;
    let mut r = Row::new(ObjType::Backend, px, "BACKEND", 0, pid);
    r.sessions(t);
    r.be_side(t, http);
    r.u32(Field::SLim, be.slim);
    r.u64(Field::DReq, t.dreq);
    r.str(Field::Status, if be.up { "UP" } else { "DOWN" });
    r.u32(Field::Weight, be.weight);
    r.u32(Field::UWeight, be.uweight);
    r.u32(Field::Act, be.act);
    r.u32(Field::Bck, be.bck);
    r.u64(Field::ChkDown, be.chkdown);
    r.secs(Field::LastChg, be.lastchg);
    if let Some(d) = be.downtime {
        r.secs(Field::Downtime, d);
    }
    r.u64(Field::LbTot, be.lbtot);
    if http {
        r.u64(Field::ReqTot, t.req_tot);
        r.u64(Field::CompIn, t.comp_in);
        r.u64(Field::CompOut, t.comp_out);
        r.u64(Field::CompByp, t.comp_byp);
        r.u64(Field::CompRsp, t.comp_rsp);
        r.u64(Field::CacheLookups, t.cache_lookups);
        r.u64(Field::CacheHits, t.cache_hits);
    }
    // Configuration details are only shown with `stats show-legends` or
    // on an operator-level socket, as HAProxy does.
    if legends {
        if let Some(c) = &be.cookie {
            r.str(Field::Cookie, c);
        }
        r.str(Field::Algo, &be.algo);
    }
    // HAProxy's CSV prints these as 0: only its Prometheus exporter
    // aggregates them (per state, see `prom`).
    r.u32(Field::AggServerStatus, 0);
    r.u32(Field::AggServerCheckStatus, 0);
    r.u32(Field::AggCheckStatus, 0);
    r.h2(t);
    r
}

/// The rows of one proxy in HAProxy's order: frontend, servers, backend.
pub(crate) fn proxy_rows(px: &ProxyStats, pid: u32, legends: bool) -> Vec<Row> {
    let mut rows = Vec::with_capacity(px.servers.len() + 2);
    if let Some(fe) = &px.frontend {
        rows.push(frontend_row(px, fe, pid));
    }
    if px.backend.is_some() {
        rows.extend(px.servers.iter().map(|s| server_row(px, s, pid, legends)));
    }
    if let Some(be) = &px.backend {
        rows.push(backend_row(px, be, pid, legends));
    }
    rows
}
