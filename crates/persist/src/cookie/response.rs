//! The response side of cookie persistence: the server's `Set-Cookie` headers and
//! the one Fulcrum adds in insert mode.

use fulcrum_config::model::persist::CookieMode;

use super::{parse, s30_to_b64, CookiePersist, HeaderEdit, RequestCookie};

/// What happened to the persistence cookie in the response (the fourth `%ts`… log flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseCookie {
    /// The server set no persistence cookie and none was inserted.
    #[default]
    None,
    /// The server set one and it was left as is (passive, `preserve`).
    Found,
    /// The server's was removed.
    Deleted,
    /// Fulcrum inserted one.
    Inserted,
    /// The server's value was rewritten (`rewrite`, `prefix`).
    Replaced,
    /// Fulcrum refreshed the dates of the client's cookie.
    Updated,
}

impl ResponseCookie {
    /// HAProxy's log letter.
    pub fn log_char(self) -> char {
        match self {
            ResponseCookie::None => 'N',
            ResponseCookie::Found => 'P',
            ResponseCookie::Deleted => 'D',
            ResponseCookie::Inserted => 'I',
            ResponseCookie::Replaced => 'R',
            ResponseCookie::Updated => 'U',
        }
    }
}

/// Headers to add to the response, in this order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddHeaders {
    /// The `Set-Cookie` value.
    pub set_cookie: Option<String>,
    /// Add `Cache-control: private` (`nocache` on a cacheable response).
    pub cache_control_private: bool,
}

impl AddHeaders {
    /// As `(name, value)` pairs with HAProxy's header names.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(c) = &self.set_cookie {
            v.push(("Set-Cookie", c.clone()));
        }
        if self.cache_control_private {
            v.push(("Cache-control", "private".to_string()));
        }
        v
    }
}

impl CookiePersist {
    /// Handles one `Set-Cookie` header of the response from `server` (`None`: no
    /// real server, e.g. a dispatch address). `ignore_persist`: an `ignore-persist`
    /// rule matched for the request.
    pub fn response_set_cookie(
        &self,
        req: &RequestCookie,
        rs: &mut ResponseCookie,
        server: Option<usize>,
        header: &[u8],
        ignore_persist: bool,
    ) -> HeaderEdit {
        if ignore_persist {
            return HeaderEdit::Keep;
        }
        let Some(it) = parse::set_cookie_item(header) else {
            return HeaderEdit::Keep;
        };
        if it.name(header) != self.name() {
            return HeaderEdit::Keep;
        }
        *rs = ResponseCookie::Found;
        let srv_cookie = server.and_then(|s| self.server_cookie(s));
        if self.preserve {
            return HeaderEdit::Keep;
        }
        if (server.is_some() && self.mode == CookieMode::Insert) || (req.direct && self.indirect) {
            *rs = ResponseCookie::Deleted;
            return HeaderEdit::Remove;
        }
        let Some(sc) = srv_cookie else {
            return HeaderEdit::Keep;
        };
        let (vb, ve) = it.value;
        let mut out = Vec::with_capacity(header.len() + sc.len() + 1);
        out.extend_from_slice(&header[..it.name.1]);
        out.push(b'=');
        match self.mode {
            CookieMode::Rewrite => out.extend_from_slice(sc),
            CookieMode::Prefix => {
                out.extend_from_slice(sc);
                out.push(super::DELIM_PREFIX);
                out.extend_from_slice(&header[vb..ve]);
            }
            _ => return HeaderEdit::Keep,
        }
        out.extend_from_slice(&header[ve..]);
        *rs = ResponseCookie::Replaced;
        HeaderEdit::Replace(out)
    }

    /// The headers insert mode adds to a response from `server`, at `now` (seconds
    /// since the epoch). `post`: the request method was POST; `cacheable`: the
    /// response could be cached (HAProxy's `TX_CACHEABLE`: a GET/HEAD/OPTIONS/TRACE
    /// request whose response does not forbid caching).
    #[allow(clippy::too_many_arguments)]
    pub fn response_insert(
        &self,
        req: &RequestCookie,
        rs: &mut ResponseCookie,
        server: Option<usize>,
        post: bool,
        cacheable: bool,
        ignore_persist: bool,
        now: u64,
    ) -> AddHeaders {
        let Some(server) = server else {
            return AddHeaders::default();
        };
        let refresh_idle = (self.maxidle != 0 || req.last_date != 0)
            && (req.last_date == 0 || req.last_date < now);
        let needed = !req.direct
            || req.server != Some(server)
            || refresh_idle
            || (self.maxlife != 0 && req.first_date == 0)
            || (self.maxlife == 0 && req.first_date != 0);
        if self.mode != CookieMode::Insert
            || (*rs == ResponseCookie::Found && self.preserve)
            || !needed
            || (self.postonly && !post)
            || ignore_persist
        {
            return AddHeaders::default();
        }
        let name = String::from_utf8_lossy(self.name());
        let mut c = match self.server_cookie(server) {
            None => format!("{name}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"),
            Some(v) => {
                let mut c = format!("{name}={}", String::from_utf8_lossy(v));
                if self.maxidle != 0 || self.maxlife != 0 {
                    let stamp = |secs: u64| {
                        let b = s30_to_b64((secs >> 2) as u32);
                        String::from_utf8_lossy(&b).into_owned()
                    };
                    c.push('|');
                    c.push_str(&stamp(now + 3));
                    if self.maxlife != 0 {
                        c.push('|');
                        let first = if req.first_date != 0 {
                            req.first_date
                        } else {
                            now + 3
                        };
                        c.push_str(&stamp(first));
                    }
                }
                c.push_str("; path=/");
                c
            }
        };
        if let Some(d) = &self.domain {
            c.push_str("; domain=");
            c.push_str(d);
        }
        if self.httponly {
            c.push_str("; HttpOnly");
        }
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(a) = &self.attrs {
            c.push_str("; ");
            c.push_str(a);
        }
        *rs = if self.server_cookie(server).is_some() && req.direct && req.server == Some(server) {
            ResponseCookie::Updated
        } else {
            ResponseCookie::Inserted
        };
        AddHeaders {
            set_cookie: Some(c),
            cache_control_private: self.nocache && cacheable,
        }
    }
}
