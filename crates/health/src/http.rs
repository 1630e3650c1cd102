//! HTTP check requests and responses.

use crate::expect::HttpResponse;
use crate::script::{os_text, read_more, ReadErr, MAX_RECV};
use crate::status::{CheckStatus, Outcome};
use fulcrum_config::model::check::HttpCheckSend;
use fulcrum_proto::chunked::ChunkedDecoder;
use fulcrum_proto::{parse_response, BodyFraming, Limits, Method, Parsed};
use tokio::io::AsyncRead;
use tokio::time::Instant;

/// The request bytes as HAProxy 2.x puts them on the wire: request line,
/// headers (then `extra`) with lower-case names (HTX stores them so),
/// `connection: close` unless a `Connection` header was given, and always
/// `content-length`, then the body.
pub fn build_request(req: &HttpCheckSend, extra: &[(String, String)]) -> Vec<u8> {
    let mut out = format!(
        "{} {} {}\r\n",
        req.method_or_default(),
        req.uri_or_default(),
        req.version_or_default()
    );
    let mut has_connection = false;
    for (n, v) in req.headers.iter().chain(extra) {
        if v.is_empty() {
            continue;
        }
        has_connection |= n.eq_ignore_ascii_case("connection");
        out.push_str(&format!("{}: {v}\r\n", n.to_ascii_lowercase()));
    }
    if !has_connection {
        out.push_str("connection: close\r\n");
    }
    let body = req.body.as_deref().unwrap_or_default();
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// Why no response could be read.
#[derive(Debug)]
pub enum ReadFail {
    /// The server closed without sending a byte.
    Empty,
    Other(Outcome),
}

impl From<Outcome> for ReadFail {
    fn from(o: Outcome) -> Self {
        ReadFail::Other(o)
    }
}

/// Reads one final response (interim 1xx skipped; a 101 is final), with its
/// body when `with_body` (up to [`MAX_RECV`] bytes).
pub async fn read_response<C: AsyncRead + Unpin>(
    c: &mut C,
    buf: &mut Vec<u8>,
    method: &str,
    with_body: bool,
    deadline: Instant,
) -> Result<HttpResponse, ReadFail> {
    // HEAD answers carry no body whatever Content-Length says.
    let method = Method::from_bytes(method.as_bytes());
    loop {
        let parsed = parse_response(buf, method, &Limits::default());
        match parsed {
            Ok(Parsed::Complete(head, len)) => {
                if head.is_interim() {
                    buf.drain(..len);
                    continue;
                }
                let headers = head
                    .headers_in(buf)
                    .iter()
                    .map(|(n, v)| {
                        (
                            String::from_utf8_lossy(n).into_owned(),
                            String::from_utf8_lossy(v).into_owned(),
                        )
                    })
                    .collect();
                let mut resp = HttpResponse {
                    status: head.status,
                    reason: String::from_utf8_lossy(head.reason.get(buf)).into_owned(),
                    headers,
                    body: Vec::new(),
                };
                if with_body && !head.tunnel {
                    resp.body = read_body(c, buf, len, head.framing, deadline).await?;
                }
                return Ok(resp);
            }
            Ok(Parsed::Partial) => {}
            Err(_) => {
                let o = Outcome::with_info(CheckStatus::L7Rsp, "invalid HTTP response");
                return Err(o.into());
            }
        }
        match read_more(c, buf, deadline).await {
            Ok(0) if buf.is_empty() => return Err(ReadFail::Empty),
            Ok(0) => {
                let o = Outcome::with_info(CheckStatus::L7Rsp, "truncated HTTP response");
                return Err(o.into());
            }
            Ok(_) => {}
            Err(ReadErr::Timeout) => return Err(Outcome::new(CheckStatus::L7Tout).into()),
            Err(ReadErr::Io(e)) => {
                return Err(Outcome::with_info(CheckStatus::SockErr, os_text(&e)).into())
            }
        }
    }
}

async fn read_body<C: AsyncRead + Unpin>(
    c: &mut C,
    buf: &mut Vec<u8>,
    head_len: usize,
    framing: BodyFraming,
    deadline: Instant,
) -> Result<Vec<u8>, Outcome> {
    let mut chunked = ChunkedDecoder::new();
    let mut fed = head_len;
    let mut body = Vec::new();
    loop {
        let done = match framing {
            BodyFraming::None => true,
            BodyFraming::ContentLength(n) => {
                (buf.len() - head_len) as u64 >= n || buf.len() >= MAX_RECV
            }
            BodyFraming::Chunked => {
                let p = chunked
                    .decode(&buf[fed..], |d| body.extend_from_slice(d))
                    .map_err(|_| Outcome::with_info(CheckStatus::L7Rsp, "invalid chunked body"))?;
                fed += p.consumed;
                p.done
            }
            BodyFraming::CloseDelimited => false,
        };
        if done {
            break;
        }
        match read_more(c, buf, deadline).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(ReadErr::Timeout) => return Err(Outcome::new(CheckStatus::L7Tout)),
            Err(ReadErr::Io(e)) => {
                return Err(Outcome::with_info(CheckStatus::SockErr, os_text(&e)))
            }
        }
    }
    Ok(match framing {
        BodyFraming::Chunked => body,
        BodyFraming::ContentLength(n) => {
            let end = buf
                .len()
                .min(head_len.saturating_add(usize::try_from(n).unwrap_or(usize::MAX)));
            buf[head_len..end].to_vec()
        }
        _ => buf[head_len..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_glued_headers_and_body_are_sent() {
        let req = HttpCheckSend {
            method: Some("GET".into()),
            uri: Some("/ws".into()),
            version: Some("HTTP/1.1".into()),
            headers: vec![("Host".into(), "www".into())],
            body: Some("ping".into()),
            ..Default::default()
        };
        let b = build_request(&req, &[("X-A".into(), "1".into())]);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "GET /ws HTTP/1.1\r\nhost: www\r\nx-a: 1\r\nconnection: close\r\ncontent-length: 4\r\n\r\nping"
        );
        let d = build_request(&HttpCheckSend::default(), &[]);
        assert_eq!(
            String::from_utf8(d).unwrap(),
            "OPTIONS / HTTP/1.0\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        );
        let ws = HttpCheckSend {
            headers: vec![
                ("Connection".into(), "Upgrade".into()),
                ("Host".into(), "".into()),
            ],
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(build_request(&ws, &[])).unwrap(),
            "OPTIONS / HTTP/1.0\r\nconnection: Upgrade\r\ncontent-length: 0\r\n\r\n"
        );
    }
}
