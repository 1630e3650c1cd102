//! Fulcrum's wire protocols, sans-io: no sockets, no clock, no runtime.
//!
//! The engine reads bytes and asks these pure functions what they mean:
//! - [`http1`]: HTTP/1.0 and 1.1 heads with offsets into the caller's buffer,
//!   HAProxy's smuggling defences, head rewriting and header lookups;
//! - [`chunked`]: how many body bytes belong to a message (chunked or
//!   Content-Length), so bodies stream through unchanged;
//! - [`proxy_protocol`]: PROXY v1/v2 headers in and out;
//! - [`errors`]: HAProxy's built-in error responses, byte for byte.
//!
//! Every fault is one [`Error`] variant; [`Error::status`] gives HAProxy's answer.

pub mod chunked;
pub mod error;
pub mod errors;
pub mod http1;
pub mod proxy_protocol;

pub use error::{Error, HttpError, Side};
pub use http1::{
    parse_request, parse_response, BodyFraming, ByteRange, Limits, Method, Parsed, RequestHead,
    ResponseHead, Version,
};
