//! `show events [<sink>] [-w] [-n]` (management.txt): HAProxy's event sinks, and the
//! lines a ring holds. `-n` skips the lines already there; `-w` keeps the
//! connection open and sends new lines as they come, until the client sends
//! anything or closes (the engine's socket loop drives a [`Follow`]).

use super::exec::Runtime;
use crate::log::{Ring, Rings};
use std::sync::Arc;

/// A `show events NAME -w` in progress: the ring and the next line to send.
#[derive(Debug)]
pub struct Follow {
    pub ring: Arc<Ring>,
    pub next: u64,
}

impl Follow {
    /// The lines added since the last call, one per line; empty when none.
    pub fn take_new(&mut self) -> String {
        let (lines, next) = self.ring.read_from(self.next, std::time::Duration::ZERO);
        self.next = next;
        lines_text(&lines)
    }
}

fn lines_text(lines: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(&String::from_utf8_lossy(l));
        out.push('\n');
    }
    out
}

/// The answer to `show events`, and what to follow for `-w`. As HAProxy's, its
/// refusals have no final newline: the line that ends the command ends them.
pub(super) fn show_events(
    rt: &dyn Runtime,
    name: Option<&str>,
    opts: &[String],
) -> (String, Option<Follow>) {
    let rings = rt.rings().unwrap_or_else(|| Arc::new(Rings::builtin()));
    let Some(name) = name else {
        return (rings.list(), None);
    };
    let Some(ring) = rings.get(name) else {
        if Rings::is_fd_sink(name) {
            return ("Nothing to report for this sink".into(), None);
        }
        return ("No such event sink".into(), None);
    };
    // HAProxy reads the options after finding the sink.
    let (mut wait, mut new_only) = (false, false);
    for o in opts {
        match o.as_str() {
            "-w" => wait = true,
            "-n" => new_only = true,
            "-nw" | "-wn" => (wait, new_only) = (true, true),
            _ => return ("unknown option".into(), None),
        }
    }
    let (lines, next) = ring.snapshot();
    let out = if new_only {
        String::new()
    } else {
        lines_text(&lines)
    };
    let follow = wait.then(|| Follow {
        ring: Arc::clone(ring),
        next,
    });
    (out, follow)
}
