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
//!
//! How the engine drives a request (the response side is the same with
//! [`parse_response`], given the request's method):
//!
//! ```
//! use fulcrum_proto::chunked::{ChunkedDecoder, LengthCounter};
//! use fulcrum_proto::errors::default_error;
//! use fulcrum_proto::{parse_request, BodyFraming, Limits, Parsed, Side};
//!
//! let buf = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next";
//! let (head, head_len) = match parse_request(buf, &Limits::default()) {
//!     Ok(Parsed::Complete(head, len)) => (head, len),
//!     Ok(Parsed::Partial) => return, // read more bytes, then parse the whole buffer again
//!     Err(e) => {
//!         let _reply = default_error(e.status(Side::Request)); // send it, then close
//!         return;
//!     }
//! };
//! // No rule changed the head: forward `buf[..head_len]` as received.
//! let body = &buf[head_len..];
//! let body_len = match head.framing {
//!     BodyFraming::Chunked => {
//!         let mut dec = ChunkedDecoder::new();
//!         let p = dec.feed(body).unwrap();
//!         assert!(p.done);
//!         p.consumed
//!     }
//!     BodyFraming::ContentLength(n) => LengthCounter::new(n).feed(body.len()).consumed,
//!     BodyFraming::None | BodyFraming::CloseDelimited => 0,
//! };
//! // Bytes after the body are the next pipelined request.
//! assert_eq!(&body[body_len..], b"GET /next");
//! ```

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
