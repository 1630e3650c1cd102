//! Running the proxy: the process lifecycle around the engine.
//!
//! Order, as HAProxy's: fork into the background if asked (the parent waits until the child
//! says its listeners are bound, so bind errors still reach the terminal and the exit code),
//! take the old process's listening sockets (`-x`), bind the other listeners, tell old
//! processes to finish (`-sf`/`-st`), write the pidfile, chroot and drop privileges, then
//! serve until a signal:
//! SIGINT/SIGTERM stop at once (exit 0); SIGUSR1 stops listening and exits when the last
//! connection ends.

use crate::cli::Args;
use crate::process;
use fulcrum_config::model::Config;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::process::ExitCode;

pub fn run(args: &Args, config: &Config, runtime: fulcrum_engine::Runtime) -> ExitCode {
    let g = &config.global;
    let background = (g.daemon || args.daemon) && !args.no_background && !args.debug;

    let maxconn = args
        .maxconn
        .map(u64::from)
        .or(g.maxconn.map(u64::from))
        .unwrap_or(4096);
    let wanted = g
        .ulimit_n
        .unwrap_or_else(|| process::fd_limit_for(maxconn, 16, 256));
    if let Err(e) = process::raise_nofile(wanted) {
        // As HAProxy: without `strict-limits` this is a warning and we run with the most
        // the system allows; with it, a refusal to start.
        if g.strict_limits {
            eprintln!("[ALERT]    : {e}");
            return ExitCode::from(1);
        }
        let hard = process::nofile_hard_limit().unwrap_or(0);
        let _ = process::raise_nofile(hard);
        if !args.quiet {
            eprintln!(
                "[WARNING]  : cannot raise the open-file limit to {wanted}, running with {hard}: \
                 about {} connections fit (set 'ulimit-n' or 'maxconn' lower, or raise the hard limit; \
                 'strict-limits' in 'global' makes this an error)",
                hard.saturating_sub(128) / 2
            );
        }
    }

    if let Some(mb) = args.mem_limit_mb {
        if let Err(e) = process::limit_memory(mb) {
            eprintln!("[ALERT]    : {e}");
            return ExitCode::from(1);
        }
    }

    // When daemonizing, the child reports "ready" or its error through this pipe.
    let mut ready_pipe: Option<std::fs::File> = None;
    if background {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into our array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            eprintln!("[ALERT]    : cannot create a pipe to daemonize");
            return ExitCode::from(1);
        }
        // SAFETY: fds are fresh from pipe(), each owned by exactly one File.
        let (mut rd, wr) = unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        };
        // SAFETY: still single-threaded here.
        match unsafe { libc::fork() } {
            -1 => {
                eprintln!("[ALERT]    : cannot fork into the background");
                return ExitCode::from(1);
            }
            0 => {
                drop(rd);
                ready_pipe = Some(wr);
                // SAFETY: new session for the child.
                unsafe { libc::setsid() };
            }
            _ => {
                drop(wr);
                let mut msg = String::new();
                let _ = rd.read_to_string(&mut msg);
                return if msg == "ok" {
                    ExitCode::SUCCESS
                } else {
                    eprint!("{msg}");
                    ExitCode::from(1)
                };
            }
        }
    }

    let signals = block_signals();
    let rings = std::sync::Arc::new(fulcrum_observe::log::Rings::from_config(config));
    let (log, log_warnings) = crate::logging::TrafficLog::from_config(config, &rings);
    for w in log_warnings {
        report(&mut None, &format!("[WARNING]  : {w}\n"));
    }
    // `-x`: the old process's listening sockets, taken before anything is bound. As
    // HAProxy without master-worker, failing to get them is fatal: a reload that
    // would silently drop connections is not what was asked for.
    let handover = match &args.xfer_socket {
        Some(path) => match fulcrum_engine::Inherited::fetch(path) {
            Ok(h) => Some(h),
            Err(e) => {
                report(
                    &mut ready_pipe,
                    &format!("[ALERT]    : Failed to get the sockets from the old process: {e}\n"),
                );
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let opts = fulcrum_engine::EngineOptions {
        log: log.map(|l| l as std::sync::Arc<dyn fulcrum_engine::LogSink>),
        cpu_map: g.cpu_map.clone(),
        handover,
        rings: Some(rings),
        ..Default::default()
    };
    let handle = match fulcrum_engine::Engine::start(runtime, opts) {
        Ok(h) => h,
        Err(e) => {
            let msg = format!("[ALERT]    : Starting proxies: {e}\n");
            report(&mut ready_pipe, &msg);
            return ExitCode::from(1);
        }
    };

    // Health checks, stats pages, Prometheus and the `stats socket` runtime API. The
    // sockets are bound here, before chroot and the privilege drop, as HAProxy does.
    if let Err(e) = handle.start_ops(config, None) {
        report(
            &mut ready_pipe,
            &format!("[ALERT]    : Starting health checks and stats: {e}\n"),
        );
        handle.stop_now();
        return ExitCode::from(1);
    }

    process::signal_pids(&args.finish_pids, libc::SIGUSR1);
    process::signal_pids(&args.terminate_pids, libc::SIGTERM);

    if let Some(pidfile) = args.pidfile.as_ref().or(g.pidfile.as_ref()) {
        if let Err(e) = process::write_pidfile(pidfile) {
            report(&mut ready_pipe, &format!("[ALERT]    : {e}\n"));
            handle.stop_now();
            return ExitCode::from(1);
        }
    }
    if let Err(e) = drop_privileges(config) {
        report(&mut ready_pipe, &format!("[ALERT]    : {e}\n"));
        handle.stop_now();
        return ExitCode::from(1);
    }
    if let Some(mut w) = ready_pipe.take() {
        let _ = w.write_all(b"ok");
        drop(w);
        redirect_stdio_to_null();
    }

    if wait_for_signal(&signals, &handle) == Stop::Graceful {
        drain_limits(signals, &handle, g.hard_stop_after);
    }
    handle.wait();
    ExitCode::SUCCESS
}

/// While a gracefully stopping process waits for its last connections, SIGTERM or
/// SIGINT still stop it at once, and `hard-stop-after` bounds the wait, as in HAProxy.
fn drain_limits(
    signals: libc::sigset_t,
    handle: &fulcrum_engine::EngineHandle,
    hard_stop_after: Option<std::time::Duration>,
) {
    let ctl = handle.control();
    std::thread::spawn(move || loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: sigwait on a set we built; writes the signal number into `sig`.
        if unsafe { libc::sigwait(&signals, &mut sig) } != 0 {
            continue;
        }
        if sig == libc::SIGINT || sig == libc::SIGTERM {
            ctl.stop_now();
            return;
        }
    });
    if let Some(after) = hard_stop_after {
        let ctl = handle.control();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            tracing::warn!("hard-stop-after reached: closing the connections left");
            ctl.stop_now();
        });
    }
}

fn report(pipe: &mut Option<std::fs::File>, msg: &str) {
    match pipe {
        Some(w) => {
            let _ = w.write_all(msg.as_bytes());
        }
        None => eprint!("{msg}"),
    }
}

fn drop_privileges(config: &Config) -> Result<(), process::ProcessError> {
    let g = &config.global;
    let uid = match (&g.user, g.uid) {
        (Some(name), _) => Some(process::uid_of(name)?),
        (None, Some(uid)) => Some(uid),
        _ => None,
    };
    let gid = match (&g.group, g.gid) {
        (Some(name), _) => Some(process::gid_of(name)?),
        (None, Some(gid)) => Some(gid),
        _ => None,
    };
    process::drop_privileges(g.chroot.as_deref(), uid, gid)
}

fn redirect_stdio_to_null() {
    // SAFETY: plain syscalls on our own fds.
    unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

/// Blocks the signals we handle in this thread before any worker starts, so every thread
/// inherits the mask and only [`wait_for_signal`] receives them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a value we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGUSR1,
            libc::SIGHUP,
            libc::SIGTTOU,
            libc::SIGTTIN,
        ] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

#[derive(PartialEq)]
enum Stop {
    Now,
    Graceful,
}

fn wait_for_signal(set: &libc::sigset_t, handle: &fulcrum_engine::EngineHandle) -> Stop {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: sigwait on a set we built; writes the signal number into `sig`.
        if unsafe { libc::sigwait(set, &mut sig) } != 0 {
            continue;
        }
        match sig {
            libc::SIGINT | libc::SIGTERM => {
                handle.stop_now();
                return Stop::Now;
            }
            libc::SIGUSR1 => {
                handle.graceful_stop();
                return Stop::Graceful;
            }
            // SIGHUP, SIGTTOU, SIGTTIN: HAProxy's state dump and listener pause/resume;
            // nothing to do yet, and they must not kill the process.
            _ => {}
        }
    }
}
