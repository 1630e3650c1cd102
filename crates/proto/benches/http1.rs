//! Hot paths of the data plane: head parsing, rewriting, chunked validation.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use fulcrum_proto::chunked::ChunkedDecoder;
use fulcrum_proto::http1::{rewrite_request, Edit};
use fulcrum_proto::{parse_request, Limits, Parsed};

const BROWSER_GET: &[u8] = b"GET /static/app.js?v=1234 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/\r\n\
Connection: keep-alive\r\n\
Cookie: SERVERID=s1; session=0123456789abcdef0123456789abcdef\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
\r\n";

fn heads(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("http1");
    g.throughput(Throughput::Bytes(BROWSER_GET.len() as u64));
    g.bench_function("parse_request", |b| {
        b.iter(|| parse_request(black_box(BROWSER_GET), &limits))
    });
    let Ok(Parsed::Complete(head, _)) = parse_request(BROWSER_GET, &limits) else {
        panic!("fixture does not parse")
    };
    let edits = [
        Edit::AddHeader {
            name: b"X-Forwarded-For",
            value: b"192.0.2.1",
        },
        Edit::DelHeader {
            name: b"Upgrade-Insecure-Requests",
        },
    ];
    let mut out = Vec::with_capacity(1024);
    g.bench_function("rewrite_request", |b| {
        b.iter(|| {
            out.clear();
            rewrite_request(BROWSER_GET, black_box(&head), &edits, &mut out)
        })
    });
    g.finish();
}

fn chunked(c: &mut Criterion) {
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"400\r\n");
        body.extend_from_slice(&[b'x'; 0x400]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut g = c.benchmark_group("chunked");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("validate_64k", |b| {
        b.iter(|| ChunkedDecoder::new().feed(black_box(&body)))
    });
    g.finish();
}

criterion_group!(benches, heads, chunked);
criterion_main!(benches);
