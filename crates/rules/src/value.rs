//! Sample values and the variable store.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// One fetched or converted value. Strings borrow from the request when they can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sample<'a> {
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    Str(Cow<'a, [u8]>),
    Bin(Cow<'a, [u8]>),
}

impl<'a> Sample<'a> {
    pub fn str(b: &'a [u8]) -> Self {
        Sample::Str(Cow::Borrowed(b))
    }
    pub fn owned_str(b: Vec<u8>) -> Sample<'static> {
        Sample::Str(Cow::Owned(b))
    }

    pub fn into_owned(self) -> Sample<'static> {
        match self {
            Sample::Bool(b) => Sample::Bool(b),
            Sample::Int(i) => Sample::Int(i),
            Sample::Ip(ip) => Sample::Ip(ip),
            Sample::Str(s) => Sample::Str(Cow::Owned(s.into_owned())),
            Sample::Bin(s) => Sample::Bin(Cow::Owned(s.into_owned())),
        }
    }

    /// The value as text: integers in decimal, addresses in their usual form,
    /// booleans as `1`/`0`.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Sample::Bool(b) => Cow::Borrowed(if *b { b"1" } else { b"0" }),
            Sample::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            Sample::Ip(ip) => Cow::Owned(ip.to_string().into_bytes()),
            Sample::Str(s) | Sample::Bin(s) => Cow::Borrowed(s),
        }
    }

    pub fn into_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Sample::Str(s) | Sample::Bin(s) => s,
            other => Cow::Owned(other.to_bytes().into_owned()),
        }
    }

    /// Integer value: strings are parsed as HAProxy does (leading sign and digits).
    pub fn to_int(&self) -> Option<i64> {
        match self {
            Sample::Bool(b) => Some(i64::from(*b)),
            Sample::Int(i) => Some(*i),
            Sample::Ip(IpAddr::V4(v4)) => Some(i64::from(u32::from(*v4))),
            Sample::Ip(_) => None,
            Sample::Str(s) | Sample::Bin(s) => parse_int_prefix(s),
        }
    }

    pub fn to_bool(&self) -> bool {
        match self {
            Sample::Bool(b) => *b,
            Sample::Int(i) => *i != 0,
            other => other.to_int().is_some_and(|i| i != 0),
        }
    }

    pub fn to_ip(&self) -> Option<IpAddr> {
        match self {
            Sample::Ip(ip) => Some(*ip),
            Sample::Int(i) => u32::try_from(*i).ok().map(|v| IpAddr::V4(v.into())),
            Sample::Str(s) | Sample::Bin(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            Sample::Bool(_) => None,
        }
    }
}

/// `[+-]digits` at the start of `s` (after spaces); `None` if there is no digit.
pub(crate) fn parse_int_prefix(s: &[u8]) -> Option<i64> {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in &digits[..end] {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    Some(if neg { -v } else { v })
}

/// One scope's variables by full name.
type VarMap = HashMap<String, Sample<'static>>;

/// The `sess.` variables of one client connection: every transaction on it
/// (and every copy of its [`Vars`]) shares them.
#[derive(Clone, Debug, Default)]
pub struct SessionVars(Arc<Mutex<VarMap>>);

impl SessionVars {
    /// No variable set and no other holder: dropping it and starting a fresh
    /// one later changes nothing.
    pub fn is_unused(&self) -> bool {
        Arc::strong_count(&self.0) == 1 && lock(&self.0).is_empty()
    }
}

/// `proc.` variables: one store for the process, shared by every worker thread.
fn proc_vars() -> MutexGuard<'static, VarMap> {
    static PROC: OnceLock<Mutex<VarMap>> = OnceLock::new();
    let m = PROC.get_or_init(Default::default);
    // A panic elsewhere while holding it leaves a usable map: take it anyway.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock(m: &Mutex<VarMap>) -> MutexGuard<'_, VarMap> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Variables by full name (`txn.user`, `sess.x`, `proc.y`). The engine keeps one
/// per transaction; `sess.` names go to the connection's [`SessionVars`] when it
/// lent one (else they stay with this value), `proc.` names to the process store.
///
/// The map sits in a `RefCell` because the `set-var`/`unset-var` converters write
/// while an expression is evaluated through a shared view; `get` hands out copies,
/// so no borrow outlives a call.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    map: RefCell<VarMap>,
    sess: Option<SessionVars>,
}

/// Where a name lives.
enum Store<'a> {
    Local,
    Session(&'a SessionVars),
    Process,
}

impl Vars {
    /// A transaction's variables on a connection whose `sess.` store is `sess`.
    pub fn with_session(sess: SessionVars) -> Self {
        Vars {
            map: RefCell::default(),
            sess: Some(sess),
        }
    }
    /// The connection's `sess.` store, when one is attached.
    pub fn session(&self) -> Option<&SessionVars> {
        self.sess.as_ref()
    }
    fn store(&self, name: &str) -> Store<'_> {
        match name.split_once('.').map(|(s, _)| s) {
            Some("proc") => Store::Process,
            Some("sess") => self.sess.as_ref().map_or(Store::Local, Store::Session),
            _ => Store::Local,
        }
    }
    pub fn get(&self, name: &str) -> Option<Sample<'static>> {
        match self.store(name) {
            Store::Local => self.map.borrow().get(name).cloned(),
            Store::Session(s) => lock(&s.0).get(name).cloned(),
            Store::Process => proc_vars().get(name).cloned(),
        }
    }
    fn put(&self, name: &str, value: Option<Sample<'static>>) {
        let mut local;
        let mut shared;
        let map: &mut VarMap = match self.store(name) {
            Store::Local => {
                local = self.map.borrow_mut();
                &mut local
            }
            Store::Session(s) => {
                shared = lock(&s.0);
                &mut shared
            }
            Store::Process => {
                shared = proc_vars();
                &mut shared
            }
        };
        match value {
            Some(v) => {
                map.insert(name.to_string(), v);
            }
            None => {
                map.remove(name);
            }
        }
    }
    pub fn set(&mut self, name: &str, value: Sample<'_>) {
        self.put(name, Some(value.into_owned()));
    }
    pub fn unset(&mut self, name: &str) {
        self.put(name, None);
    }
    /// `set-var(NAME,COND…)` as a converter: conditions as for the action.
    pub(crate) fn set_from_converter(&self, name: &str, conds: &[String], value: &Sample<'_>) {
        let old = self.get(name);
        if set_var_allowed(conds, old.as_ref(), value) {
            self.put(name, Some(value.clone().into_owned()));
        }
    }
    /// `unset-var(NAME)` as a converter.
    pub(crate) fn unset_from_converter(&self, name: &str) {
        self.put(name, None);
    }
    /// Drops every variable of `scope` kept with this value (`txn` at the end
    /// of a transaction, `req` once the request is forwarded, `res` after the
    /// response); the shared `sess`/`proc` stores are not touched.
    pub fn clear_scope(&mut self, scope: &str) {
        self.map
            .get_mut()
            .retain(|k, _| k.split_once('.').map(|(s, _)| s) != Some(scope));
    }
}

/// A `set-src-port`/`set-dst-port` value: an integer in 0..=65535, else nothing.
pub(crate) fn port_of(s: &Sample<'_>) -> Option<u16> {
    u16::try_from(s.to_int()?).ok()
}

/// Whether every `set-var(NAME,COND…)` condition lets `new` replace `old`.
pub(crate) fn set_var_allowed(
    conds: &[String],
    old: Option<&Sample<'_>>,
    new: &Sample<'_>,
) -> bool {
    let empty = |s: &Sample<'_>| matches!(s, Sample::Str(b) | Sample::Bin(b) if b.is_empty());
    let cmp = |f: fn(i64, i64) -> bool| match (old.and_then(Sample::to_int), new.to_int()) {
        (Some(o), Some(n)) => f(o, n),
        _ => false,
    };
    conds.iter().all(|c| match c.as_str() {
        "ifexists" | "ifset" => old.is_some(),
        "ifnotexists" | "ifnotset" => old.is_none(),
        "ifempty" => empty(new),
        "ifnotempty" => !empty(new),
        "ifgt" => cmp(|o, n| o > n),
        "iflt" => cmp(|o, n| o < n),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_clear_independently() {
        let mut v = Vars::default();
        v.set("txn.a", Sample::Int(1));
        v.set("sess.a", Sample::Int(2));
        v.clear_scope("txn");
        assert_eq!(v.get("txn.a"), None);
        assert_eq!(v.get("sess.a"), Some(Sample::Int(2)));
    }

    #[test]
    fn session_and_process_scopes_are_shared() {
        let sess = SessionVars::default();
        let mut first = Vars::with_session(sess.clone());
        first.set("sess.user", Sample::Int(7));
        first.set("txn.t", Sample::Int(1));
        first.set("proc.value_rs_test", Sample::Int(3));
        // The next transaction on the connection sees `sess.`, not `txn.`.
        let second = Vars::with_session(sess);
        assert_eq!(second.get("sess.user"), Some(Sample::Int(7)));
        assert_eq!(second.get("txn.t"), None);
        // Another connection sees only `proc.`.
        let mut other = Vars::with_session(SessionVars::default());
        assert_eq!(other.get("sess.user"), None);
        assert_eq!(other.get("proc.value_rs_test"), Some(Sample::Int(3)));
        other.unset("proc.value_rs_test");
        assert_eq!(second.get("proc.value_rs_test"), None);
    }

    #[test]
    fn set_var_conditions() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let one = Sample::Int(1);
        let five = Sample::Int(5);
        assert!(set_var_allowed(&c(&["ifnotexists"]), None, &one));
        assert!(!set_var_allowed(&c(&["ifnotexists"]), Some(&one), &five));
        assert!(set_var_allowed(
            &c(&["ifexists", "ifgt"]),
            Some(&five),
            &one
        ));
        assert!(!set_var_allowed(&c(&["ifgt"]), Some(&one), &five));
        assert!(set_var_allowed(&c(&["iflt"]), Some(&one), &five));
        assert!(!set_var_allowed(
            &c(&["ifnotempty"]),
            None,
            &Sample::str(b"")
        ));
        assert!(set_var_allowed(&c(&["ifempty"]), None, &Sample::str(b"")));
    }

    #[test]
    fn integer_prefixes() {
        assert_eq!(parse_int_prefix(b" -12abc"), Some(-12));
        assert_eq!(parse_int_prefix(b"x1"), None);
        assert_eq!(
            Sample::str(b"10.1.2.3").to_ip(),
            Some("10.1.2.3".parse().unwrap())
        );
        assert!(Sample::str(b"7").to_bool());
    }
}
