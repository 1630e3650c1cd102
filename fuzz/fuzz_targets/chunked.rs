#![no_main]
//! Chunked bodies: the decoder never panics, never consumes more than it was
//! given, and its answer does not depend on how the input is split.
use fulcrum_proto::chunked::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], step: usize) -> Result<(usize, bool), fulcrum_proto::Error> {
    let mut dec = ChunkedDecoder::with_limit(256);
    let mut consumed = 0;
    while consumed < data.len() {
        let end = (consumed + step).min(data.len());
        let p = dec.feed(&data[consumed..end])?;
        assert!(p.consumed <= end - consumed);
        consumed += p.consumed;
        if p.done {
            return Ok((consumed, true));
        }
    }
    Ok((consumed, false))
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let whole = run(body, body.len().max(1));
    let split = run(body, usize::from(step).max(1));
    assert_eq!(whole, split);
});
