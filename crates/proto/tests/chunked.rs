//! Chunked bodies fed whole, split at every position, and byte by byte.

use fulcrum_proto::chunked::{ChunkedDecoder, LengthCounter, Progress};
use fulcrum_proto::Error;
use proptest::prelude::*;

/// Feeds `body` in pieces cut at `cuts`; returns (bytes consumed, payload, done).
fn feed_split(body: &[u8], cuts: &[usize]) -> Result<(usize, Vec<u8>, bool), Error> {
    let mut dec = ChunkedDecoder::new();
    let mut payload = Vec::new();
    let mut consumed = 0;
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c <= body.len()).collect();
    bounds.push(body.len());
    bounds.sort_unstable();
    let mut from = 0;
    for to in bounds {
        let p = dec.decode(&body[from.max(consumed)..to], |d| {
            payload.extend_from_slice(d)
        })?;
        consumed += p.consumed;
        from = to;
        if p.done {
            return Ok((consumed, payload, true));
        }
    }
    Ok((consumed, payload, dec.is_done()))
}

const BODY: &[u8] =
    b"5\r\nhello\r\n1A;name=\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\nGET /next";
const MSG_LEN: usize = BODY.len() - 9;

#[test]
fn whole_body_with_extensions_and_trailers() {
    let (n, payload, done) = feed_split(BODY, &[]).unwrap();
    assert!(done);
    assert_eq!(n, MSG_LEN, "the pipelined request is not part of the body");
    assert_eq!(payload, b"helloabcdefghijklmnopqrstuvwxyz");
}

#[test]
fn every_single_split_position_gives_the_same_answer() {
    for cut in 0..=BODY.len() {
        let (n, payload, done) = feed_split(BODY, &[cut]).unwrap();
        assert!(done, "cut {cut}");
        assert_eq!(n, MSG_LEN, "cut {cut}");
        assert_eq!(payload, b"helloabcdefghijklmnopqrstuvwxyz", "cut {cut}");
    }
}

#[test]
fn every_pair_of_split_positions_gives_the_same_answer() {
    for a in 0..=BODY.len() {
        for b in a..=BODY.len() {
            let (n, _, done) = feed_split(BODY, &[a, b]).unwrap();
            assert!(done && n == MSG_LEN, "cuts {a},{b}");
        }
    }
}

#[test]
fn byte_by_byte() {
    let cuts: Vec<usize> = (0..BODY.len()).collect();
    let (n, payload, done) = feed_split(BODY, &cuts).unwrap();
    assert!(done);
    assert_eq!(n, MSG_LEN);
    assert_eq!(payload.len(), 31);
}

#[test]
fn empty_body_and_bare_lf_like_haproxy() {
    assert_eq!(feed_split(b"0\r\n\r\n", &[]).unwrap(), (5, vec![], true));
    assert_eq!(
        feed_split(b"3\nabc\n0\n\n", &[]).unwrap(),
        (9, b"abc".to_vec(), true)
    );
    assert!(feed_split(b"3 ;ext\r\nabc\r\n0\r\n\r\n", &[]).unwrap().2);
}

#[test]
fn incomplete_body_is_not_done() {
    for cut in 0..MSG_LEN {
        let mut dec = ChunkedDecoder::new();
        let p = dec.feed(&BODY[..cut]).unwrap();
        assert_eq!(
            p,
            Progress {
                consumed: cut,
                done: false
            },
            "cut {cut}"
        );
    }
}

#[test]
fn bad_chunks_are_refused_at_every_split() {
    let cases: [(&[u8], Error); 11] = [
        (b"\r\n", Error::InvalidChunkSize),
        (b"g\r\n", Error::InvalidChunkSize),
        (b"-1\r\n", Error::InvalidChunkSize),
        (b"5 5\r\n", Error::InvalidChunkSize),
        (b"0x5\r\n", Error::InvalidChunkSize),
        (b"10000000000000000\r\n", Error::ChunkSizeOverflow),
        (b"3\r\nabcX\r\n", Error::MissingChunkCrlf),
        (b"3\rX", Error::MissingChunkCrlf),
        (b"3;a\x01b\r\n", Error::InvalidChunkExtension),
        (b"0\r\nX-A 1\r\n\r\n", Error::InvalidTrailer),
        (b"0\r\n folded: x\r\n\r\n", Error::InvalidTrailer),
    ];
    for (body, want) in cases {
        for cut in 0..=body.len() {
            let got = feed_split(body, &[cut]);
            assert_eq!(
                got,
                Err(want),
                "{:?} cut {cut}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn errors_are_sticky() {
    let mut dec = ChunkedDecoder::new();
    assert_eq!(dec.feed(b"z"), Err(Error::InvalidChunkSize));
    assert_eq!(dec.feed(b"0\r\n\r\n"), Err(Error::InvalidChunkSize));
}

#[test]
fn largest_size_is_accepted_and_overflow_refused() {
    let mut dec = ChunkedDecoder::new();
    let p = dec.feed(b"FFFFFFFFFFFFFFFF\r\nab").unwrap();
    assert_eq!(
        p,
        Progress {
            consumed: 20,
            done: false
        }
    );
}

#[test]
fn trailers_and_size_lines_are_bounded() {
    let mut dec = ChunkedDecoder::with_limit(32);
    let mut body = b"0\r\nX: ".to_vec();
    body.extend_from_slice(&[b'a'; 64]);
    assert_eq!(dec.feed(&body), Err(Error::TrailersTooLarge { limit: 32 }));
    let mut dec = ChunkedDecoder::with_limit(32);
    let mut body = b"1;".to_vec();
    body.extend_from_slice(&[b'e'; 64]);
    assert_eq!(dec.feed(&body), Err(Error::InvalidChunkExtension));
}

#[test]
fn content_length_counter() {
    let mut c = LengthCounter::new(10);
    assert_eq!(
        c.feed(4),
        Progress {
            consumed: 4,
            done: false
        }
    );
    assert_eq!(c.remaining(), 6);
    assert_eq!(
        c.feed(100),
        Progress {
            consumed: 6,
            done: true
        }
    );
    assert!(c.is_done());
    assert_eq!(
        c.feed(5),
        Progress {
            consumed: 0,
            done: true
        }
    );
    assert!(LengthCounter::new(0).is_done());
}

fn encode_chunked(chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks.iter().filter(|c| !c.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nT: v\r\n\r\n");
    out
}

proptest! {
    #[test]
    fn any_encoding_split_anywhere_decodes_to_its_payload(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
        cuts in prop::collection::vec(0usize..400, 0..6),
        tail in prop::collection::vec(any::<u8>(), 0..10),
    ) {
        let mut body = encode_chunked(&chunks);
        let len = body.len();
        body.extend_from_slice(&tail);
        let (n, payload, done) = feed_split(&body, &cuts).unwrap();
        prop_assert!(done);
        prop_assert_eq!(n, len);
        prop_assert_eq!(payload, chunks.concat());
    }

    #[test]
    fn random_bytes_never_panic_and_never_overrun(
        body in prop::collection::vec(any::<u8>(), 0..200),
        cuts in prop::collection::vec(0usize..200, 0..4),
    ) {
        if let Ok((n, _, _)) = feed_split(&body, &cuts) {
            prop_assert!(n <= body.len());
        }
    }
}
