//! The termination state (`%ts`, `%tsc`): configuration.txt §8.5.

use std::fmt;

/// First character: what ended the session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TermCause {
    /// `-`: normal end.
    #[default]
    Normal,
    /// `C`: the client aborted.
    ClientAbort,
    /// `c`: the client-side timeout expired.
    ClientTimeout,
    /// `S`: the server aborted or refused, or answered with an error.
    ServerAbort,
    /// `s`: the server-side timeout expired.
    ServerTimeout,
    /// `P`: the proxy ended it (deny, security check, invalid response).
    Proxy,
    /// `L`: the proxy answered locally (stats, redirect, return).
    Local,
    /// `R`: a resource ran out (memory, sockets, ports).
    Resource,
    /// `I`: internal error.
    Internal,
    /// `D`: killed because the server went down (`on-marked-down shutdown-sessions`).
    Down,
    /// `U`: killed on a backup server because an active one came up.
    Up,
    /// `K`: killed by an admin (runtime API `shutdown session`).
    Killed,
}

impl TermCause {
    pub fn as_char(self) -> char {
        match self {
            TermCause::Normal => '-',
            TermCause::ClientAbort => 'C',
            TermCause::ClientTimeout => 'c',
            TermCause::ServerAbort => 'S',
            TermCause::ServerTimeout => 's',
            TermCause::Proxy => 'P',
            TermCause::Local => 'L',
            TermCause::Resource => 'R',
            TermCause::Internal => 'I',
            TermCause::Down => 'D',
            TermCause::Up => 'U',
            TermCause::Killed => 'K',
        }
    }
}

/// Second character: in which phase the session was when it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TermPhase {
    /// `-`: normal end.
    #[default]
    None,
    /// `R`: waiting for the client's request.
    Request,
    /// `Q`: waiting in a queue.
    Queue,
    /// `C`: connecting to the server.
    Connect,
    /// `H`: waiting for the server's response headers.
    Headers,
    /// `D`: transferring data.
    Data,
    /// `L`: sending the last data while closing.
    Last,
    /// `T`: tarpitted.
    Tarpit,
}

impl TermPhase {
    pub fn as_char(self) -> char {
        match self {
            TermPhase::None => '-',
            TermPhase::Request => 'R',
            TermPhase::Queue => 'Q',
            TermPhase::Connect => 'C',
            TermPhase::Headers => 'H',
            TermPhase::Data => 'D',
            TermPhase::Last => 'L',
            TermPhase::Tarpit => 'T',
        }
    }
}

/// Third character: the persistence cookie the client sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CookieRequest {
    /// `-`: no persistence cookie configured.
    #[default]
    NotApplicable,
    /// `N`: no cookie.
    None,
    /// `I`: a cookie naming no known server.
    Invalid,
    /// `D`: a cookie naming a server that is down.
    Down,
    /// `V`: a valid cookie.
    Valid,
    /// `E`: expired (idle date too old).
    Expired,
    /// `O`: old (first date too old).
    Old,
    /// `U`: present but not used (`use-server` or similar chose).
    Unused,
}

impl CookieRequest {
    pub fn as_char(self) -> char {
        match self {
            CookieRequest::NotApplicable => '-',
            CookieRequest::None => 'N',
            CookieRequest::Invalid => 'I',
            CookieRequest::Down => 'D',
            CookieRequest::Valid => 'V',
            CookieRequest::Expired => 'E',
            CookieRequest::Old => 'O',
            CookieRequest::Unused => 'U',
        }
    }
}

/// Fourth character: what the proxy did with the server's cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CookieResponse {
    /// `-`: does not apply.
    #[default]
    NotApplicable,
    /// `N`: the server sent none.
    None,
    /// `I`: none from the server, one inserted.
    Inserted,
    /// `U`: updated (expiration dates).
    Updated,
    /// `P`: provided by the server, passed as-is.
    Provided,
    /// `R`: rewritten by the proxy.
    Rewritten,
    /// `D`: deleted by the proxy.
    Deleted,
}

impl CookieResponse {
    pub fn as_char(self) -> char {
        match self {
            CookieResponse::NotApplicable => '-',
            CookieResponse::None => 'N',
            CookieResponse::Inserted => 'I',
            CookieResponse::Updated => 'U',
            CookieResponse::Provided => 'P',
            CookieResponse::Rewritten => 'R',
            CookieResponse::Deleted => 'D',
        }
    }
}

/// The four-character termination state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TermState {
    pub cause: TermCause,
    pub phase: TermPhase,
    pub cookie_req: CookieRequest,
    pub cookie_res: CookieResponse,
}

impl TermState {
    pub const fn new(cause: TermCause, phase: TermPhase) -> Self {
        TermState {
            cause,
            phase,
            cookie_req: CookieRequest::NotApplicable,
            cookie_res: CookieResponse::NotApplicable,
        }
    }
    /// `--`: normal end.
    pub const NORMAL: TermState = TermState::new(TermCause::Normal, TermPhase::None);
    /// `CD`: the client aborted during data transfer.
    pub const CLIENT_ABORT_DATA: TermState =
        TermState::new(TermCause::ClientAbort, TermPhase::Data);
    /// `cD`: the client timed out during data transfer.
    pub const CLIENT_TIMEOUT_DATA: TermState =
        TermState::new(TermCause::ClientTimeout, TermPhase::Data);
    /// `CR`: the client aborted before sending a full request.
    pub const CLIENT_ABORT_REQUEST: TermState =
        TermState::new(TermCause::ClientAbort, TermPhase::Request);
    /// `cR`: `timeout http-request` expired.
    pub const CLIENT_TIMEOUT_REQUEST: TermState =
        TermState::new(TermCause::ClientTimeout, TermPhase::Request);
    /// `sH`: `timeout server` expired before the response headers.
    pub const SERVER_TIMEOUT_HEADERS: TermState =
        TermState::new(TermCause::ServerTimeout, TermPhase::Headers);
    /// `SH`: the server aborted before sending complete headers.
    pub const SERVER_ABORT_HEADERS: TermState =
        TermState::new(TermCause::ServerAbort, TermPhase::Headers);
    /// `SC`: the server refused the connection.
    pub const SERVER_CONNECT: TermState =
        TermState::new(TermCause::ServerAbort, TermPhase::Connect);
    /// `sC`: `timeout connect` expired.
    pub const SERVER_TIMEOUT_CONNECT: TermState =
        TermState::new(TermCause::ServerTimeout, TermPhase::Connect);
    /// `sQ`: `timeout queue` expired.
    pub const QUEUE_TIMEOUT: TermState = TermState::new(TermCause::ServerTimeout, TermPhase::Queue);
    /// `PR`: the proxy blocked the request (deny, bad request).
    pub const PROXY_REQUEST: TermState = TermState::new(TermCause::Proxy, TermPhase::Request);
    /// `PH`: the proxy blocked the response (invalid or denied).
    pub const PROXY_HEADERS: TermState = TermState::new(TermCause::Proxy, TermPhase::Headers);
    /// `PT`: tarpitted.
    pub const PROXY_TARPIT: TermState = TermState::new(TermCause::Proxy, TermPhase::Tarpit);
    /// `LR`: answered locally (stats page, redirect).
    pub const LOCAL_REQUEST: TermState = TermState::new(TermCause::Local, TermPhase::Request);
    /// `SD`: the server aborted during data transfer.
    pub const SERVER_ABORT_DATA: TermState =
        TermState::new(TermCause::ServerAbort, TermPhase::Data);
    /// `sD`: the server timed out during data transfer.
    pub const SERVER_TIMEOUT_DATA: TermState =
        TermState::new(TermCause::ServerTimeout, TermPhase::Data);

    pub fn with_cookies(mut self, req: CookieRequest, res: CookieResponse) -> Self {
        self.cookie_req = req;
        self.cookie_res = res;
        self
    }

    /// True when the termination cause is an error: anything but a normal
    /// or locally answered end (what `option log-separate-errors` and
    /// `option dontlog-normal` look at, with retries and 5xx).
    pub fn is_error(&self) -> bool {
        !matches!(self.cause, TermCause::Normal | TermCause::Local)
    }

    /// `%ts`: two characters.
    pub fn short(&self) -> [u8; 2] {
        [self.cause.as_char() as u8, self.phase.as_char() as u8]
    }

    /// `%tsc`: four characters.
    pub fn long(&self) -> [u8; 4] {
        [
            self.cause.as_char() as u8,
            self.phase.as_char() as u8,
            self.cookie_req.as_char() as u8,
            self.cookie_res.as_char() as u8,
        ]
    }
}

impl fmt::Display for TermState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.long()).unwrap_or("----"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_haproxy_letters() {
        assert_eq!(&TermState::NORMAL.long(), b"----");
        assert_eq!(&TermState::CLIENT_ABORT_DATA.short(), b"CD");
        assert_eq!(&TermState::CLIENT_TIMEOUT_DATA.short(), b"cD");
        assert_eq!(&TermState::SERVER_TIMEOUT_HEADERS.short(), b"sH");
        assert_eq!(&TermState::SERVER_CONNECT.short(), b"SC");
        assert_eq!(&TermState::PROXY_REQUEST.short(), b"PR");
        let t = TermState::NORMAL.with_cookies(CookieRequest::None, CookieResponse::Inserted);
        assert_eq!(t.to_string(), "--NI");
        assert!(!TermState::NORMAL.is_error());
        assert!(!TermState::LOCAL_REQUEST.is_error());
        assert!(TermState::SERVER_CONNECT.is_error());
    }
}
