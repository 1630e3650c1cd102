//! `mode http` (HTTP/1.0 and 1.1). A client connection is a [`session`] looping
//! over transactions: reading head → connecting → streaming both ways → either
//! the next request (keep-alive), a tunnel (after `101`), or closing. Heads,
//! framing and chunked validation come from fulcrum-proto.

mod body;
mod errors;
mod pool;
mod rules;
mod session;
mod txn;

pub(crate) use rules::ReqParts;
pub(crate) use session::{resume, serve, ParkedHttp};
