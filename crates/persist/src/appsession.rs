//! `appsession COOKIE len N timeout T [request-learn] [prefix] [mode …]` (HAProxy
//! 1.5, removed in 1.6), kept with its meaning on a string stick table:
//! the value of the application's session cookie set by a server is remembered
//! with that server for `timeout` after its last use, and requests carrying the
//! value (in a cookie or in the URL) go back to it.
//!
//! The engine calls [`AppSession::learn_response`] on the server's original
//! `Set-Cookie` headers (before cookie persistence edits them), and
//! [`AppSession::request`] on each request before load balancing.

use std::time::Duration;

use fulcrum_config::model::persist::{AppSession as AppSessionModel, AppSessionMode};

use crate::cookie::{parse, PersistDecision, RequestOpts};
use crate::data::Schema;
use crate::key::{Key, KeyType};
use crate::table::{StickTable, TableConfig};

/// Sessions remembered at most (the modern equivalent's `size 1m`).
pub const SIZE: u64 = 1 << 20;

/// What a request said about its application session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRequest {
    /// The session id found (cut to `len`), for `request-learn`.
    pub id: Option<Key>,
    pub decision: PersistDecision,
}

/// One backend's appsession.
#[derive(Debug)]
pub struct AppSession {
    cookie: Box<[u8]>,
    prefix: bool,
    request_learn: bool,
    mode: AppSessionMode,
    key: KeyType,
    table: StickTable,
}

impl AppSession {
    /// `name`: the backend's name (the table's).
    pub fn new(name: &str, a: &AppSessionModel) -> Self {
        let key = KeyType::String(a.len as usize);
        let expire = u64::try_from(a.timeout.as_millis()).unwrap_or(u64::MAX);
        let table = StickTable::new(TableConfig {
            name: format!("{name} (appsession)"),
            key,
            size: SIZE,
            expire: Some(expire),
            nopurge: false,
            schema: Schema::new(&[fulcrum_config::model::persist::StoreData::ServerId]),
        });
        AppSession {
            cookie: a.cookie.as_bytes().into(),
            prefix: a.prefix,
            request_learn: a.request_learn,
            mode: a.mode,
            key,
            table,
        }
    }

    /// The table behind (for `show table`, reload export and purges).
    pub fn table(&self) -> &StickTable {
        &self.table
    }

    /// The session id in a cookie `name=value`: exact name, or with `prefix` any
    /// name starting with it, the id then being what follows the prefix.
    fn id_of(&self, h: &[u8], it: &parse::Item) -> Option<Key> {
        let name = it.name(h);
        let raw: &[u8] = if name == &*self.cookie {
            it.value(h)
        } else if self.prefix && name.starts_with(&self.cookie) {
            &h[it.name.0 + self.cookie.len()..it.value.1]
        } else {
            return None;
        };
        (!raw.is_empty())
            .then(|| Key::from_text(self.key, raw).ok())
            .flatten()
    }

    /// The id carried by the URL: `;NAME=id` path parameters or `?NAME=id`/`&NAME=id`.
    fn id_in_uri(&self, uri: &[u8]) -> Option<Key> {
        let (starts, ends): (&[u8], &[u8]) = match self.mode {
            AppSessionMode::PathParameters => (b";", b";?&/#"),
            AppSessionMode::QueryString => (b"?&", b"&#"),
        };
        let scope = match self.mode {
            AppSessionMode::PathParameters => {
                &uri[..memchr::memchr(b'?', uri).unwrap_or(uri.len())]
            }
            AppSessionMode::QueryString => uri,
        };
        let mut i = 0;
        while i < scope.len() {
            let at = i;
            i += 1;
            if !starts.contains(&scope[at]) {
                continue;
            }
            let rest = &scope[at + 1..];
            if rest.len() > self.cookie.len()
                && rest.starts_with(&self.cookie)
                && rest[self.cookie.len()] == b'='
            {
                let v = &rest[self.cookie.len() + 1..];
                let end = v.iter().position(|b| ends.contains(b)).unwrap_or(v.len());
                if end > 0 {
                    return Key::from_text(self.key, &v[..end]).ok();
                }
            }
        }
        None
    }

    /// Looks for the session id in the request's `Cookie` header values, then in
    /// its URI, and says where the request goes. `alive(i)`: server `i` is up;
    /// stored server ids are declaration indexes.
    pub fn request<'h>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'h [u8]>,
        uri: &[u8],
        alive: &dyn Fn(usize) -> bool,
        o: &RequestOpts,
        now: u64,
    ) -> AppRequest {
        let id = cookie_headers
            .into_iter()
            .find_map(|h| parse::items(h).find_map(|it| it.equal.and_then(|_| self.id_of(h, &it))))
            .or_else(|| self.id_in_uri(uri));
        let mut decision = PersistDecision::Balance;
        if let (Some(k), false, false) = (&id, o.ignore_persist, o.assigned) {
            if let Some(srv) = self
                .table
                .stick_match(k, now)
                .and_then(|s| usize::try_from(s).ok())
            {
                if alive(srv) {
                    decision = PersistDecision::Direct(srv);
                } else if o.option_persist || o.force_persist {
                    decision = PersistDecision::DirectDown(srv);
                }
            }
        }
        AppRequest { id, decision }
    }

    /// Learns the session ids the server `server` sets in its `Set-Cookie` header
    /// values; returns whether one was learnt.
    pub fn learn_response<'h>(
        &self,
        set_cookie_headers: impl IntoIterator<Item = &'h [u8]>,
        server: usize,
        now: u64,
    ) -> bool {
        let Ok(sid) = i32::try_from(server) else {
            return false;
        };
        let mut learnt = false;
        for h in set_cookie_headers {
            if let Some(k) = parse::set_cookie_item(h).and_then(|it| self.id_of(h, &it)) {
                learnt |= self.table.stick_store(&k, sid, now).is_ok();
            }
        }
        learnt
    }

    /// `request-learn`: once `server` answered a request that carried an id the
    /// server did not set again, the id is remembered with that server.
    pub fn learn_request(&self, req: &AppRequest, server: usize, now: u64) -> bool {
        match (&req.id, i32::try_from(server)) {
            (Some(k), Ok(sid)) if self.request_learn => self.table.stick_store(k, sid, now).is_ok(),
            _ => false,
        }
    }

    /// The idle time after which a session is forgotten.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.table.config().expire.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::diag::Span;

    fn app(extra: impl FnOnce(&mut AppSessionModel)) -> AppSession {
        let mut a = AppSessionModel {
            cookie: "JSESSIONID".into(),
            len: 52,
            timeout: Duration::from_secs(15 * 60),
            request_learn: false,
            prefix: false,
            mode: AppSessionMode::PathParameters,
            span: Span::new("t.cfg", 1),
        };
        extra(&mut a);
        AppSession::new("be", &a)
    }

    fn up(_: usize) -> bool {
        true
    }

    const O: RequestOpts = RequestOpts {
        option_persist: false,
        force_persist: false,
        ignore_persist: false,
        assigned: false,
    };

    #[test]
    fn learns_jsessionid_routes_by_it_for_timeout_then_forgets() {
        let a = app(|_| {});
        let none: [&[u8]; 0] = [];
        // Unknown yet: balanced.
        let r = a.request([&b"JSESSIONID=ABC123"[..]], b"/app", &up, &O, 0);
        assert_eq!(r.decision, PersistDecision::Balance);
        assert!(a.learn_response([&b"JSESSIONID=ABC123; Path=/app; HttpOnly"[..]], 2, 1_000));
        // By cookie, and by URL path parameter.
        let r = a.request([&b"x=1; JSESSIONID=ABC123"[..]], b"/app", &up, &O, 60_000);
        assert_eq!(r.decision, PersistDecision::Direct(2));
        let r = a.request(none, b"/app/page;JSESSIONID=ABC123?x=1", &up, &O, 120_000);
        assert_eq!(r.decision, PersistDecision::Direct(2));
        // Each use refreshes: 15 min after the last use it is forgotten.
        let last = 120_000;
        let r = a.request([&b"JSESSIONID=ABC123"[..]], b"/", &up, &O, last + 899_999);
        assert_eq!(r.decision, PersistDecision::Direct(2));
        let r = a.request(
            [&b"JSESSIONID=ABC123"[..]],
            b"/",
            &up,
            &O,
            last + 899_999 + 900_000,
        );
        assert_eq!(r.decision, PersistDecision::Balance);
    }

    #[test]
    fn query_string_mode_prefix_and_request_learn() {
        let a = app(|a| {
            a.mode = AppSessionMode::QueryString;
            a.prefix = true;
            a.request_learn = true;
        });
        let none: [&[u8]; 0] = [];
        let r = a.request(none, b"/x?a=1&JSESSIONID=Q1", &up, &O, 0);
        assert_eq!(r.id, Some(Key::String((*b"Q1").into())));
        assert!(a.learn_request(&r, 1, 0));
        assert_eq!(
            a.request(none, b"/y?JSESSIONID=Q1", &up, &O, 10).decision,
            PersistDecision::Direct(1)
        );
        // Prefix: `JSESSIONIDXY=Z` carries the id `XY=Z`.
        assert!(a.learn_response([&b"JSESSIONIDXY=Z; path=/"[..]], 0, 0));
        let r = a.request([&b"JSESSIONIDXY=Z"[..]], b"/", &up, &O, 5);
        assert_eq!(r.decision, PersistDecision::Direct(0));
    }

    #[test]
    fn a_down_server_is_left_unless_persist() {
        let a = app(|_| {});
        a.learn_response([&b"JSESSIONID=S"[..]], 0, 0);
        let down = |_: usize| false;
        let h = [&b"JSESSIONID=S"[..]];
        assert_eq!(
            a.request(h, b"/", &down, &O, 1).decision,
            PersistDecision::Balance
        );
        let o = RequestOpts {
            option_persist: true,
            ..O
        };
        assert_eq!(
            a.request(h, b"/", &down, &o, 1).decision,
            PersistDecision::DirectDown(0)
        );
    }

    #[test]
    fn ids_are_cut_to_len() {
        let a = app(|a| a.len = 4);
        a.learn_response([&b"JSESSIONID=ABCDEFGH"[..]], 3, 0);
        let r = a.request([&b"JSESSIONID=ABCDzzzz"[..]], b"/", &up, &O, 1);
        assert_eq!(r.decision, PersistDecision::Direct(3));
    }
}
