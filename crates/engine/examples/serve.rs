//! Serves a HAProxy configuration with the engine alone (no process management):
//! `serve -f haproxy.cfg`. Used by `bench/run.sh` until the `fulcrum` binary is
//! wired; stops on SIGTERM/SIGINT like any foreground process.

use fulcrum_config::reader::ProcessEnv;
use fulcrum_engine::{compile, Engine, EngineOptions};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let files: Vec<PathBuf> = args
        .windows(2)
        .filter(|w| w[0] == "-f")
        .map(|w| PathBuf::from(&w[1]))
        .collect();
    if files.is_empty() {
        eprintln!("usage: serve -f CONFIG [-f CONFIG...]");
        return ExitCode::from(2);
    }
    let loaded = fulcrum_config::load(&files, &ProcessEnv);
    for d in &loaded.diagnostics.items {
        eprintln!("{d}");
    }
    let Some(cfg) = loaded.config else {
        return ExitCode::from(1);
    };
    let rt = match compile(&cfg) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("[ALERT] {e}");
            return ExitCode::from(1);
        }
    };
    match Engine::start(rt, EngineOptions::default()) {
        Ok(h) => {
            h.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("[ALERT] {e}");
            ExitCode::from(1)
        }
    }
}
