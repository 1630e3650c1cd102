//! The check kinds HAProxy builds in (`option mysql-check`, `redis-check`,
//! …): the bytes each sends and how each reply is judged, as scripts.

pub mod ldap;
pub mod mysql;
pub mod pgsql;
pub mod redis;
pub mod smtp;
pub mod ssl_hello;

use crate::expect::{CustomFn, Expectation, Matcher};
use crate::script::Step;

/// An expect step judged by a protocol function.
pub(crate) fn custom(f: CustomFn) -> Step {
    Step::Expect(Expectation::new(Matcher::Custom(f)))
}

/// The first line of `buf` without its line ending, once complete.
pub(crate) fn first_line(buf: &[u8]) -> Option<&[u8]> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}
