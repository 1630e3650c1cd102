//! `option X` / `no option X` (configuration.txt §4.2), typed.

use super::addr::IpNet;

/// How HTTP connections are handled (the last of `option http-keep-alive`,
/// `http-server-close`, `httpclose` wins, as in HAProxy 2.x).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpMode {
    #[default]
    KeepAlive,
    ServerClose,
    Close,
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Forwardfor {
    pub except: Option<IpNet>,
    pub header: String,
    pub if_none: bool,
}

/// `option originalto [except NET] [header NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Originalto {
    pub except: Option<IpNet>,
    pub header: String,
}

/// `option httplog [clf]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLog {
    pub clf: bool,
}

/// Every option of a proxy. Copied from `defaults` when a proxy starts; `no option X` clears.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub httplog: Option<HttpLog>,
    pub httpslog: bool,
    pub tcplog: bool,
    pub forwardfor: Option<Forwardfor>,
    pub originalto: Option<Originalto>,
    pub http_mode: HttpMode,
    pub pretend_keepalive: bool,
    /// `option redispatch [interval]`: `Some(1)` redispatches on every retry.
    pub redispatch: Option<i32>,
    pub abortonclose: bool,
    pub persist: bool,
    pub allbackups: bool,
    pub splice_auto: bool,
    pub splice_request: bool,
    pub splice_response: bool,
    pub log_health_checks: bool,
    pub contstats: bool,
    pub dontlognull: bool,
    pub dontlog_normal: bool,
    pub log_separate_errors: bool,
    pub logasap: bool,
    pub accept_invalid_http_request: bool,
    pub accept_invalid_http_response: bool,
    pub http_ignore_probes: bool,
    pub nolinger: bool,
    pub tcp_smart_accept: bool,
    pub tcp_smart_connect: bool,
    pub independent_streams: bool,
    pub http_buffer_request: bool,
    pub http_no_delay: bool,
    pub http_use_proxy_header: bool,
    pub http_restrict_req_hdr_names: Option<String>,
    pub prefer_last_server: bool,
    pub tcpka: bool,
    pub clitcpka: bool,
    pub srvtcpka: bool,
    pub socket_stats: bool,
    pub transparent: bool,
    pub checkcache: bool,
    pub disable_h2_upgrade: bool,
    pub idle_close_on_response: bool,
    pub h1_case_adjust_bogus_client: bool,
    pub h1_case_adjust_bogus_server: bool,
    pub http_drop_request_trailers: bool,
    pub http_drop_response_trailers: bool,
    /// Always on in HAProxy ≥ 2.1; accepted and ignored.
    pub http_use_htx: bool,
    /// `no option tcp-smart-accept`: HTTP proxies turn it on unless told not to.
    pub no_tcp_smart_accept: bool,
    /// `clitcpka-idle` / `clitcpka-intvl` / `clitcpka-cnt`.
    pub clitcpka_params: TcpKeepAlive,
    /// `srvtcpka-idle` / `srvtcpka-intvl` / `srvtcpka-cnt`.
    pub srvtcpka_params: TcpKeepAlive,
}

/// TCP keep-alive probe settings; `None` leaves the system's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpKeepAlive {
    pub idle: Option<std::time::Duration>,
    pub intvl: Option<std::time::Duration>,
    pub cnt: Option<u32>,
}
