//! HAProxy's built-in error responses, byte for byte.

use fulcrum_proto::errors::{default_error, known_statuses, reason_phrase};
use fulcrum_proto::{parse_response, BodyFraming, Limits, Method, Parsed};

#[test]
fn statuses_the_engine_sends_all_have_a_message() {
    for status in [
        400, 403, 405, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
    ] {
        let msg = default_error(status);
        let line = format!("HTTP/1.1 {status} ");
        assert!(msg.starts_with(line.as_bytes()), "{status}");
    }
}

#[test]
fn exact_bytes_of_the_common_ones() {
    assert_eq!(
        default_error(400),
        &b"HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"[..]
    );
    assert_eq!(
        default_error(503),
        &b"HTTP/1.1 503 Service Unavailable\r\nContent-length: 107\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"[..]
    );
    assert_eq!(
        default_error(403),
        &b"HTTP/1.1 403 Forbidden\r\nContent-length: 93\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"[..]
    );
}

#[test]
fn only_400_and_408_announce_close() {
    for status in known_statuses() {
        let has_close = default_error(status)
            .windows(19)
            .any(|w| w == b"Connection: close\r\n");
        assert_eq!(has_close, status == 400 || status == 408, "{status}");
    }
}

#[test]
fn every_message_parses_and_its_length_matches_its_body() {
    for status in known_statuses() {
        let msg = default_error(status);
        let Ok(Parsed::Complete(head, n)) = parse_response(msg, Method::Get, &Limits::default())
        else {
            panic!("{status} does not parse")
        };
        assert_eq!(head.status, status);
        assert_eq!(
            head.framing,
            BodyFraming::ContentLength((msg.len() - n) as u64),
            "{status}"
        );
    }
}

#[test]
fn unknown_statuses_fall_back_to_500_like_haproxy() {
    assert_eq!(default_error(418), default_error(500));
    assert_eq!(default_error(0), default_error(500));
}

#[test]
fn reason_phrases() {
    assert_eq!(reason_phrase(200), "OK");
    assert_eq!(reason_phrase(503), "Service Unavailable");
    assert_eq!(reason_phrase(302), "Moved Temporarily");
    assert_eq!(reason_phrase(299), "Success");
    assert_eq!(reason_phrase(477), "Client Error");
    assert_eq!(reason_phrase(999), "Other");
}
