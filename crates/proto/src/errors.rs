//! HAProxy's built-in responses and reason phrases, byte for byte.
//!
//! The texts are those HAProxy 2.6 sends when no `errorfile` overrides them
//! (its `http_err_msgs`); tests check every `Content-length` against its body.

/// Statuses HAProxy has a built-in response for, with that response.
const MESSAGES: &[(u16, &str)] = &[
    (200, concat!(
        "HTTP/1.1 200 OK\r\n",
        "Content-length: 58\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n",
    )),
    (400, concat!(
        "HTTP/1.1 400 Bad request\r\n",
        "Content-length: 90\r\n",
        "Cache-Control: no-cache\r\n",
        "Connection: close\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n",
    )),
    (401, concat!(
        "HTTP/1.1 401 Unauthorized\r\n",
        "Content-length: 112\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n",
    )),
    (403, concat!(
        "HTTP/1.1 403 Forbidden\r\n",
        "Content-length: 93\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n",
    )),
    (404, concat!(
        "HTTP/1.1 404 Not Found\r\n",
        "Content-length: 83\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>404 Not Found</h1>\nThe resource could not be found.\n</body></html>\n",
    )),
    (405, concat!(
        "HTTP/1.1 405 Method Not Allowed\r\n",
        "Content-length: 146\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>405 Method Not Allowed</h1>\nA request was made of a resource using a request method not supported by that resource\n</body></html>\n",
    )),
    (407, concat!(
        "HTTP/1.1 407 Unauthorized\r\n",
        "Content-length: 112\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>407 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n",
    )),
    (408, concat!(
        "HTTP/1.1 408 Request Time-out\r\n",
        "Content-length: 110\r\n",
        "Cache-Control: no-cache\r\n",
        "Connection: close\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n",
    )),
    (410, concat!(
        "HTTP/1.1 410 Gone\r\n",
        "Content-length: 114\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>410 Gone</h1>\nThe resource is no longer available and will not be available again.\n</body></html>\n",
    )),
    (413, concat!(
        "HTTP/1.1 413 Payload Too Large\r\n",
        "Content-length: 106\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>413 Payload Too Large</h1>\nThe request entity exceeds the maximum allowed.\n</body></html>\n",
    )),
    (421, concat!(
        "HTTP/1.1 421 Misdirected Request\r\n",
        "Content-length: 104\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>421 Misdirected Request</h1>\nRequest sent to a non-authoritative server.\n</body></html>\n",
    )),
    (425, concat!(
        "HTTP/1.1 425 Too Early\r\n",
        "Content-length: 80\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>425 Too Early</h1>\nYour browser sent early data.\n</body></html>\n",
    )),
    (429, concat!(
        "HTTP/1.1 429 Too Many Requests\r\n",
        "Content-length: 117\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>429 Too Many Requests</h1>\nYou have sent too many requests in a given amount of time.\n</body></html>\n",
    )),
    (500, concat!(
        "HTTP/1.1 500 Internal Server Error\r\n",
        "Content-length: 97\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n",
    )),
    (501, concat!(
        "HTTP/1.1 501 Not Implemented\r\n",
        "Content-length: 136\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>501 Not Implemented</h1>\n.The server does not support the functionality required to fulfill the request.\n</body></html>\n",
    )),
    (502, concat!(
        "HTTP/1.1 502 Bad Gateway\r\n",
        "Content-length: 107\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n",
    )),
    (503, concat!(
        "HTTP/1.1 503 Service Unavailable\r\n",
        "Content-length: 107\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n",
    )),
    (504, concat!(
        "HTTP/1.1 504 Gateway Time-out\r\n",
        "Content-length: 92\r\n",
        "Cache-Control: no-cache\r\n",
        "Content-Type: text/html\r\n",
        "\r\n",
        "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n",
    )),
];

/// HAProxy's default response for `status`; like HAProxy, a status it has no
/// message for gets the 500 one.
pub fn default_error(status: u16) -> &'static [u8] {
    let found = MESSAGES.iter().find(|(s, _)| *s == status);
    let fallback = MESSAGES.iter().find(|(s, _)| *s == 500);
    found.or(fallback).map_or(&[][..], |(_, m)| m.as_bytes())
}

/// Statuses [`default_error`] knows, ascending.
pub fn known_statuses() -> impl Iterator<Item = u16> {
    MESSAGES.iter().map(|(s, _)| *s)
}

/// The reason phrase HAProxy writes for `status` (used by `set-status`
/// without a reason, `return`, `redirect`).
pub fn reason_phrase(status: u16) -> &'static str {
    known_reason(status).unwrap_or(match status {
        100..=199 => "Informational",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Other",
    })
}

fn known_reason(status: u16) -> Option<&'static str> {
    let phrase = match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        210 => "Content Different",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        310 => "Too many Redirects",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested range unsatisfiable",
        417 => "Expectation failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable entity",
        423 => "Locked",
        424 => "Method failure",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        449 => "Retry With",
        450 => "Blocked by Windows Parental Controls",
        451 => "Unavailable For Legal Reasons",
        456 => "Unrecoverable Error",
        499 => "client has closed connection",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway or Proxy Error",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version not supported",
        506 => "Variant also negotiate",
        507 => "Insufficient storage",
        508 => "Loop detected",
        509 => "Bandwidth Limit Exceeded",
        510 => "Not extended",
        511 => "Network authentication required",
        520 => "Web server is returning an unknown error",
        _ => return None,
    };
    Some(phrase)
}
