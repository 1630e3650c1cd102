//! A log sink that keeps every record, for tests that read what the engine logs.

use super::{start_cfg_with, start_rt_with, Running};
use fulcrum_engine::runtime::Frontend;
use fulcrum_engine::{EngineOptions, LogSink, Runtime};
use fulcrum_observe::log::LogRecord;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Collect(pub Mutex<Vec<LogRecord>>);

impl LogSink for Collect {
    fn emit(&self, _fe: &Frontend, rec: LogRecord) {
        self.0.lock().unwrap().push(rec);
    }
}

/// The records once there are `n` of them, or what there is after 5 s.
pub fn wait_for(sink: &Collect, n: usize) -> Vec<LogRecord> {
    let t0 = Instant::now();
    while sink.0.lock().unwrap().len() < n && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    sink.0.lock().unwrap().clone()
}

/// [`super::start_cfg`] (one worker thread) with every log record collected.
pub fn start_cfg_logged(text: &str, fe: &str) -> (Running, Arc<Collect>) {
    let sink = Arc::new(Collect::default());
    let opts = EngineOptions {
        nbthread: Some(1),
        log: Some(sink.clone()),
        ..Default::default()
    };
    (start_cfg_with(text, fe, opts), sink)
}

/// [`super::start_rt`] (the runtime's own thread count) with every log record collected.
pub fn start_rt_logged(rt: Runtime, fe: &str) -> (Running, Arc<Collect>) {
    let sink = Arc::new(Collect::default());
    let opts = EngineOptions {
        log: Some(sink.clone()),
        ..Default::default()
    };
    (start_rt_with(rt, fe, opts), sink)
}
