//! `cpu-map`: each worker thread runs on the CPUs its line gives it.

use fulcrum_config::model::global::CpuMap;
use fulcrum_config::reader::MapEnv;
use fulcrum_engine::{compile, Engine, EngineOptions};

/// `Cpus_allowed_list` of every thread of this process named `name`.
fn allowed_cpus(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        if let Some(l) = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")) {
            out.push(l["Cpus_allowed_list:".len()..].trim().to_string());
        }
    }
    out
}

#[test]
fn worker_threads_are_bound_to_their_cpus() {
    let text = "global\n    nbthread 2\n    cpu-map 1/1 0\n    cpu-map 1/2 0\n\
                defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
                listen l\n    bind 127.0.0.1:0\n    server s 127.0.0.1:9\n";
    let l = fulcrum_config::load_str("cpu.cfg", text, &MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    let cfg = l.config.unwrap();
    let maps: Vec<CpuMap> = cfg.global.cpu_map.clone();
    assert_eq!(maps.len(), 2);
    let h = Engine::start(
        compile(&cfg).unwrap(),
        EngineOptions {
            cpu_map: maps,
            ..Default::default()
        },
    )
    .unwrap();
    // Thread names are per process: give the workers a moment to start, then read them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        seen = [allowed_cpus("fulcrum-0"), allowed_cpus("fulcrum-1")].concat();
        if seen.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.stop_now();
    assert!(seen.len() >= 2, "worker threads not found: {seen:?}");
    assert!(seen.iter().all(|c| c == "0"), "{seen:?}");
}

#[test]
fn bad_cpu_map_is_an_error_at_its_line() {
    let l = fulcrum_config::load_str("cpu.cfg", "global\n    cpu-map 3/1 0\n", &MapEnv::new());
    let errs: Vec<String> = l.diagnostics.errors().map(ToString::to_string).collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("cpu.cfg:2") && e.contains("process set '3'")),
        "{errs:?}"
    );
}
