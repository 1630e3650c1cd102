//! The `fulcrum` binary: wires the stages together and owns the process (signals, daemon,
//! pidfile, privileges). Every decision about configuration or traffic lives in the crates.

mod cli;
mod logging;
mod process;
mod run;
mod version;

use cli::{Args, Invocation};
use fulcrum_config::{Diagnostics, Level};
use std::process::ExitCode;

fn main() -> ExitCode {
    // I/O buffers (16 KiB) beyond the per-thread pools come from mmap and go
    // back to the system when freed: a burst of connections no longer leaves
    // them as holes between long-lived session state (RSS per 1000 idle
    // connections after a burst: 3.5 MB before, 2.8 MB after). Pooled
    // buffers make this cost nothing in steady traffic.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation policy; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 * 1024);
    }
    let invocation = match cli::parse(std::env::args_os()) {
        Ok(i) => i,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match invocation {
        Invocation::Migrate(files) => migrate(&files),
        Invocation::Proxy(args) => proxy(*args),
    }
}

fn proxy(args: Args) -> ExitCode {
    if args.version_verbose {
        print!("{}", version::verbose());
        return ExitCode::SUCCESS;
    }
    if args.version {
        print!("{}", version::short());
        return ExitCode::SUCCESS;
    }
    if let Some(dir) = &args.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!(
                "[ALERT]    : cannot change to directory '{}': {e}",
                dir.display()
            );
            return ExitCode::from(1);
        }
    }
    if let Some(expr) = &args.check_cond {
        return match fulcrum_config::reader::eval_condition(
            expr,
            &fulcrum_config::reader::ProcessEnv,
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("[ALERT]    : failed to evaluate condition '{expr}': {e}");
                ExitCode::from(2)
            }
        };
    }
    let paths = args.config_paths();
    if paths.is_empty() {
        eprintln!("[ALERT]    : no configuration file given: use 'fulcrum -f /etc/haproxy/haproxy.cfg' (see 'fulcrum --help')");
        return ExitCode::from(1);
    }
    let loaded = fulcrum_config::load(&paths, &fulcrum_config::reader::ProcessEnv);
    let mut diags = loaded.diagnostics;
    let config = match loaded.config {
        Some(c) if !diags.has_errors() => c,
        _ => {
            print_diagnostics(&diags, args.quiet, args.debug_opts.iter().any(|o| o == "D"));
            eprintln!("[ALERT]    : Fatal errors found in configuration.");
            return ExitCode::from(1);
        }
    };
    // Compiling the runtime (rules, regexes, map files, backends) is part of checking: a
    // config that cannot run is not valid.
    let mut runtime = match fulcrum_engine::compile(&config) {
        Ok(r) => r,
        Err(e) => {
            diags.push(fulcrum_config::Diagnostic::new(
                Level::Alert,
                None,
                e.to_string(),
            ));
            print_diagnostics(&diags, args.quiet, args.debug_opts.iter().any(|o| o == "D"));
            eprintln!("[ALERT]    : Fatal errors found in configuration.");
            return ExitCode::from(1);
        }
    };
    print_diagnostics(&diags, args.quiet, args.debug_opts.iter().any(|o| o == "D"));
    apply_limits(&args, &mut runtime);
    if args.check {
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    run::run(&args, &config, runtime)
}

/// Prints findings to stderr, most severe last so the summary is what stays on screen.
/// The command line's limits take precedence over the configuration, as in HAProxy:
/// `-n` the global maxconn, `-N` the maxconn of proxies that set none.
fn apply_limits(args: &Args, runtime: &mut fulcrum_engine::Runtime) {
    if let Some(n) = args.maxconn {
        runtime.maxconn = Some(n as usize);
    }
    if let Some(n) = args.default_maxconn {
        for fe in runtime.frontends.iter_mut().filter(|f| f.maxconn.is_none()) {
            fe.maxconn = Some(n as usize);
        }
    }
}

/// `Level::Diag` findings (unset variables, `.diag`) only show with `-dD`, as in HAProxy.
fn print_diagnostics(diags: &Diagnostics, quiet: bool, show_diag: bool) {
    let mut items: Vec<_> = diags.items.iter().collect();
    items.sort_by_key(|d| d.level);
    for d in items {
        if (quiet && d.level < Level::Alert) || (d.level == Level::Diag && !show_diag) {
            continue;
        }
        eprintln!("{d}");
    }
}

fn migrate(files: &[std::path::PathBuf]) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("[ALERT]    : cannot read '{}': {e}", f.display());
                status = ExitCode::from(1);
                continue;
            }
        };
        match fulcrum_config::migrate::migrate(
            &text,
            &f.display().to_string(),
            &fulcrum_config::reader::ProcessEnv,
        ) {
            Ok(out) => print!("{out}"),
            Err(diags) => {
                print_diagnostics(&diags, false, false);
                status = ExitCode::from(1);
            }
        }
    }
    status
}
