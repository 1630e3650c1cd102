#![no_main]
//! Runtime API lines from an untrusted socket: splitting and parsing must
//! never panic, whatever the bytes.
use fulcrum_observe::api::{parse_command, split_commands};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    for cmd in split_commands(&line) {
        let _ = parse_command(&cmd);
    }
});
