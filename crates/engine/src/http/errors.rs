//! HAProxy's default error responses (texts as HAProxy 2.x/3.x sends them), and
//! the lookup that lets `errorfile`/`errorloc`/`errorfiles` replace them.

use crate::runtime::ErrorPages;
use std::borrow::Cow;

/// (status, reason, sentence) of each default page.
const PAGES: &[(u16, &str, &str)] = &[
    (400, "Bad request", "Your browser sent an invalid request."),
    (
        401,
        "Unauthorized",
        "You need a valid user and password to access this content.",
    ),
    (
        403,
        "Forbidden",
        "Request forbidden by administrative rules.",
    ),
    (404, "Not Found", "The resource could not be found."),
    (
        405,
        "Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource",
    ),
    (
        407,
        "Unauthorized",
        "You need a valid user and password to access this content.",
    ),
    (
        408,
        "Request Time-out",
        "Your browser didn't send a complete request in time.",
    ),
    (
        410,
        "Gone",
        "The resource is no longer available and will not be available again.",
    ),
    (
        413,
        "Payload Too Large",
        "The request entity exceeds the maximum allowed.",
    ),
    (
        421,
        "Misdirected Request",
        "Request sent to a non-authoritative server.",
    ),
    (425, "Too Early", "Your browser sent early data."),
    (
        429,
        "Too Many Requests",
        "You have sent too many requests in a given amount of time.",
    ),
    (
        500,
        "Internal Server Error",
        "An internal server error occurred.",
    ),
    (
        501,
        "Not Implemented",
        ".The server does not support the functionality required to fulfill the request.",
    ),
    (
        502,
        "Bad Gateway",
        "The server returned an invalid or incomplete response.",
    ),
    (
        503,
        "Service Unavailable",
        "No server is available to handle this request.",
    ),
    (
        504,
        "Gateway Time-out",
        "The server didn't respond in time.",
    ),
];

/// The built-in page for `status` (500's page for unknown codes, as HAProxy).
pub fn default_page(status: u16) -> Vec<u8> {
    let (code, reason, text) = PAGES
        .iter()
        .find(|p| p.0 == status)
        .or_else(|| PAGES.iter().find(|p| p.0 == 500))
        .copied()
        .unwrap_or((500, "Internal Server Error", ""));
    let body = format!("<html><body><h1>{code} {reason}</h1>\n{text}\n</body></html>\n");
    // HAProxy marks only 400 and 408 with "Connection: close"; we close after
    // every error page anyway.
    let close = if matches!(code, 400 | 408) {
        "Connection: close\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-length: {}\r\nCache-Control: no-cache\r\n{close}Content-Type: text/html\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The page to send: the backend's override, else the frontend's, else the default.
pub(crate) fn page<'a>(
    status: u16,
    be: Option<&'a ErrorPages>,
    fe: &'a ErrorPages,
) -> Cow<'a, [u8]> {
    if let Some(p) = be.and_then(|b| b.by_status.get(&status)) {
        return Cow::Borrowed(p);
    }
    if let Some(p) = fe.by_status.get(&status) {
        return Cow::Borrowed(p);
    }
    Cow::Owned(default_page(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pages_match_haproxy_lengths() {
        // Content-length values HAProxy itself announces.
        for (code, len) in [
            (400, 90),
            (403, 93),
            (408, 110),
            (502, 107),
            (503, 107),
            (504, 92),
            (405, 146),
            (429, 117),
        ] {
            let p = String::from_utf8(default_page(code)).unwrap();
            assert!(
                p.contains(&format!("Content-length: {len}\r\n")),
                "{code}: {p}"
            );
            let body = p.split("\r\n\r\n").nth(1).unwrap();
            assert_eq!(body.len(), len);
        }
        assert!(String::from_utf8(default_page(400))
            .unwrap()
            .starts_with("HTTP/1.1 400 Bad request\r\n"));
    }
}
