//! Head rewriting and header lookups.

use fulcrum_proto::http1::{rewrite_request, rewrite_response, Edit};
use fulcrum_proto::{
    parse_request, parse_response, Error, Limits, Method, Parsed, RequestHead, ResponseHead,
};

fn req(buf: &[u8]) -> RequestHead {
    match parse_request(buf, &Limits::default()) {
        Ok(Parsed::Complete(h, _)) => h,
        other => panic!("{other:?}"),
    }
}

fn res(buf: &[u8]) -> ResponseHead {
    match parse_response(buf, Method::Get, &Limits::default()) {
        Ok(Parsed::Complete(h, _)) => h,
        other => panic!("{other:?}"),
    }
}

fn rewrite(buf: &[u8], edits: &[Edit<'_>]) -> Vec<u8> {
    let head = req(buf);
    let mut out = Vec::new();
    assert_eq!(rewrite_request(buf, &head, edits, &mut out), Ok(true));
    out
}

const REQ: &[u8] = b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nCookie: c=1\r\n\r\n";

#[test]
fn no_edits_write_nothing() {
    let head = req(REQ);
    let mut out = b"keep".to_vec();
    assert_eq!(rewrite_request(REQ, &head, &[], &mut out), Ok(false));
    assert_eq!(out, b"keep");
}

#[test]
fn add_header_appends_and_keeps_the_rest_verbatim() {
    let out = rewrite(
        REQ,
        &[Edit::AddHeader {
            name: b"X-Forwarded-For",
            value: b"10.0.0.1",
        }],
    );
    assert_eq!(
        out,
        b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nCookie: c=1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"
    );
}

#[test]
fn set_header_replaces_every_occurrence_case_insensitively() {
    let out = rewrite(
        REQ,
        &[Edit::SetHeader {
            name: b"x-A",
            value: b"3",
        }],
    );
    assert_eq!(
        out,
        b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nCookie: c=1\r\nx-A: 3\r\n\r\n"
    );
}

#[test]
fn del_header_removes_every_occurrence() {
    let out = rewrite(
        REQ,
        &[
            Edit::DelHeader { name: b"X-A" },
            Edit::DelHeader { name: b"cookie" },
        ],
    );
    assert_eq!(out, b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    // Deleting something absent still rewrites to identical bytes.
    assert_eq!(rewrite(REQ, &[Edit::DelHeader { name: b"Nope" }]), REQ);
}

#[test]
fn edits_apply_in_order() {
    let out = rewrite(
        REQ,
        &[
            Edit::AddHeader {
                name: b"X-B",
                value: b"1",
            },
            Edit::DelHeader { name: b"x-b" },
            Edit::AddHeader {
                name: b"X-B",
                value: b"2",
            },
        ],
    );
    assert!(out.ends_with(b"Cookie: c=1\r\nX-B: 2\r\n\r\n"));
}

#[test]
fn request_line_edits() {
    let out = rewrite(REQ, &[Edit::SetMethod(b"POST")]);
    assert!(out.starts_with(b"POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\n"));
    let out = rewrite(REQ, &[Edit::SetPath(b"/new")]);
    assert!(out.starts_with(b"GET /new?x=1 HTTP/1.1\r\n"));
    let out = rewrite(REQ, &[Edit::SetQuery(b"y=2")]);
    assert!(out.starts_with(b"GET /a/b?y=2 HTTP/1.1\r\n"));
    let out = rewrite(REQ, &[Edit::SetQuery(b"")]);
    assert!(out.starts_with(b"GET /a/b HTTP/1.1\r\n"));
    let out = rewrite(REQ, &[Edit::SetUri(b"/z")]);
    assert!(out.starts_with(b"GET /z HTTP/1.1\r\n"));
    let abs = b"GET http://h/p?q HTTP/1.1\r\nHost: h\r\n\r\n";
    let out = rewrite(abs, &[Edit::SetPath(b"/r")]);
    assert!(out.starts_with(b"GET http://h/r?q HTTP/1.1\r\n"));
}

#[test]
fn rewritten_head_parses_again() {
    let out = rewrite(
        REQ,
        &[
            Edit::SetHeader {
                name: b"Content-Length",
                value: b"5",
            },
            Edit::SetPath(b"/p"),
        ],
    );
    let head = req(&out);
    assert_eq!(head.path(&out), b"/p");
    assert_eq!(head.framing, fulcrum_proto::BodyFraming::ContentLength(5));
}

#[test]
fn edits_that_would_inject_bytes_are_refused() {
    let head = req(REQ);
    let bad = [
        Edit::AddHeader {
            name: b"X",
            value: b"a\r\nTransfer-Encoding: chunked",
        },
        Edit::AddHeader {
            name: b"X Y",
            value: b"a",
        },
        Edit::AddHeader {
            name: b"",
            value: b"a",
        },
        Edit::SetHeader {
            name: b"X",
            value: b"\0",
        },
        Edit::SetUri(b"/a b"),
        Edit::SetPath(b"/a\r\n"),
        Edit::SetMethod(b"G T"),
        Edit::SetStatus {
            status: 200,
            reason: None,
        },
    ];
    for e in bad {
        let mut out = Vec::new();
        let r = rewrite_request(REQ, &head, &[e], &mut out);
        assert!(matches!(r, Err(Error::InvalidEdit(_))), "{e:?} gave {r:?}");
    }
}

#[test]
fn set_status_uses_haproxy_reason_phrases() {
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: x\r\n\r\n";
    let head = res(buf);
    let mut out = Vec::new();
    let edits = [
        Edit::SetStatus {
            status: 503,
            reason: None,
        },
        Edit::DelHeader { name: b"server" },
    ];
    assert_eq!(rewrite_response(buf, &head, &edits, &mut out), Ok(true));
    assert_eq!(
        out,
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    );
    out.clear();
    let edits = [Edit::SetStatus {
        status: 299,
        reason: Some(b"Fine"),
    }];
    rewrite_response(buf, &head, &edits, &mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 299 Fine\r\n"));
    out.clear();
    let r = rewrite_response(buf, &head, &[Edit::SetPath(b"/")], &mut out);
    assert!(matches!(r, Err(Error::InvalidEdit(_))));
    let r = rewrite_response(
        buf,
        &head,
        &[Edit::SetStatus {
            status: 42,
            reason: None,
        }],
        &mut out,
    );
    assert!(matches!(r, Err(Error::InvalidEdit(_))));
}

#[test]
fn bare_lf_heads_keep_their_line_endings() {
    let buf = b"GET / HTTP/1.1\nHost: h\n\n";
    let out = rewrite(
        buf,
        &[Edit::AddHeader {
            name: b"A",
            value: b"b",
        }],
    );
    assert_eq!(out, b"GET / HTTP/1.1\nHost: h\nA: b\r\n\n");
}

#[test]
fn hdr_lookups_follow_haproxy_occurrences() {
    let buf = b"GET / HTTP/1.1\r\nX-F: a, b\r\nHost: h\r\nx-f: \"c,d\", e\r\n\r\n";
    let head = req(buf);
    let h = head.headers_in(buf);
    assert_eq!(h.get(b"HOST"), Some(&b"h"[..]));
    assert!(h.contains(b"x-f"));
    assert!(!h.contains(b"x-g"));
    let all: Vec<&[u8]> = h.values(b"X-F").collect();
    assert_eq!(all, vec![&b"a"[..], b"b", b"\"c,d\"", b"e"]);
    assert_eq!(h.hdr(b"x-f", 1), Some(&b"a"[..]));
    assert_eq!(h.hdr(b"x-f", 3), Some(&b"\"c,d\""[..]));
    assert_eq!(h.hdr(b"x-f", -1), Some(&b"e"[..]));
    assert_eq!(h.hdr(b"x-f", 0), Some(&b"e"[..]));
    assert_eq!(h.hdr(b"x-f", -4), Some(&b"a"[..]));
    assert_eq!(h.hdr(b"x-f", 5), None);
    assert_eq!(h.hdr(b"x-f", -5), None);
    assert_eq!(h.fhdr(b"x-f", 1), Some(&b"a, b"[..]));
    assert_eq!(h.fhdr(b"x-f", -1), Some(&b"\"c,d\", e"[..]));
    assert_eq!(h.hdr_cnt(b"x-f"), 4);
    assert_eq!(h.fhdr_cnt(b"x-f"), 2);
    assert_eq!(h.hdr_cnt(b"nope"), 0);
    let names: Vec<&[u8]> = h.iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec![&b"X-F"[..], b"Host", b"x-f"]);
}

#[test]
fn cookies_are_found_by_exact_name_last_wins() {
    let buf = b"GET / HTTP/1.1\r\nCookie: SERVERID=s1; a=1\r\ncookie: serverid=low;SERVERID=s2 ; b\r\n\r\n";
    let head = req(buf);
    let h = head.headers_in(buf);
    assert_eq!(h.cookie(b"SERVERID"), Some(&b"s2"[..]));
    assert_eq!(h.cookie(b"serverid"), Some(&b"low"[..]));
    assert_eq!(h.cookie(b"a"), Some(&b"1"[..]));
    assert_eq!(h.cookie(b"b"), None);
    assert_eq!(h.cookies().count(), 4);
}

mod model {
    //! Edits applied to a plain list must give the same headers as the rewriter.
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop::sample::select(vec![&b"A"[..], b"a", b"B", b"Via", b"X-Y"]).prop_map(<[u8]>::to_vec)
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(Vec<u8>, Vec<u8>),
        Set(Vec<u8>, Vec<u8>),
        Del(Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = "[a-z0-9 ,]{0,6}".prop_map(|s| s.trim().as_bytes().to_vec());
        prop_oneof![
            (name(), value.clone()).prop_map(|(n, v)| Op::Add(n, v)),
            (name(), value).prop_map(|(n, v)| Op::Set(n, v)),
            name().prop_map(Op::Del),
        ]
    }

    proptest! {
        #[test]
        fn rewriter_matches_a_list_model(
            initial in prop::collection::vec((name(), "[a-z0-9]{1,4}"), 0..6),
            ops in prop::collection::vec(op(), 1..6),
        ) {
            let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
            let mut expect: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (n, v) in &initial {
                buf.extend_from_slice(&[&n[..], b": ", v.as_bytes(), b"\r\n"].concat());
                expect.push((n.clone(), v.as_bytes().to_vec()));
            }
            buf.extend_from_slice(b"\r\n");
            let edits: Vec<Edit<'_>> = ops.iter().map(|o| match o {
                Op::Add(n, v) => Edit::AddHeader { name: n, value: v },
                Op::Set(n, v) => Edit::SetHeader { name: n, value: v },
                Op::Del(n) => Edit::DelHeader { name: n },
            }).collect();
            for o in &ops {
                match o {
                    Op::Add(n, v) => expect.push((n.clone(), v.clone())),
                    Op::Set(n, v) => {
                        expect.retain(|(m, _)| !m.eq_ignore_ascii_case(n));
                        expect.push((n.clone(), v.clone()));
                    }
                    Op::Del(n) => expect.retain(|(m, _)| !m.eq_ignore_ascii_case(n)),
                }
            }
            let head = req(&buf);
            let mut out = Vec::new();
            prop_assert_eq!(rewrite_request(&buf, &head, &edits, &mut out), Ok(true));
            let again = req(&out);
            let got: Vec<(Vec<u8>, Vec<u8>)> = again
                .headers_in(&out)
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            prop_assert_eq!(got, expect);
        }
    }
}
