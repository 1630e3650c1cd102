//! [`SrvName`]: a server's name, which the runtime API may change in place.
//!
//! Backends keep their servers in a vector fixed at start, and everything
//! (balancer, counters, sessions, health) refers to a server by its index.
//! `add server` therefore fills a spare slot reserved at compile time and
//! `del server` empties one (see `admin::dynsrv`): the slot's name is what
//! changes, and an empty name means "no server here" for stats, the runtime
//! API and name lookups.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// A server's name; empty for a spare or deleted slot.
pub struct SrvName(RwLock<Arc<str>>);

impl SrvName {
    pub fn new(name: &str) -> Self {
        SrvName(RwLock::new(Arc::from(name)))
    }

    /// The name now (cheap: one reference count).
    pub fn get(&self) -> Arc<str> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Renames the slot (`add server`), or empties it (`del server`).
    pub(crate) fn set(&self, name: &str) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::from(name);
    }

    /// A spare or deleted slot: hidden from stats and lookups.
    pub fn is_empty(&self) -> bool {
        self.get().is_empty()
    }
}

impl Clone for SrvName {
    fn clone(&self) -> Self {
        SrvName(RwLock::new(self.get()))
    }
}

impl fmt::Debug for SrvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.get(), f)
    }
}

impl fmt::Display for SrvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.get())
    }
}

impl PartialEq<str> for SrvName {
    fn eq(&self, other: &str) -> bool {
        *self.get() == *other
    }
}

impl PartialEq<&str> for SrvName {
    fn eq(&self, other: &&str) -> bool {
        *self.get() == **other
    }
}

impl PartialEq<String> for SrvName {
    fn eq(&self, other: &String) -> bool {
        *self.get() == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_in_place_and_compares_with_strings() {
        let n = SrvName::new("s1");
        let owned = String::from("s1");
        assert!(n == "s1" && n == *"s1" && n == owned);
        let copy = n.clone();
        n.set("");
        assert!(n.is_empty());
        assert_eq!(copy.to_string(), "s1");
    }
}
