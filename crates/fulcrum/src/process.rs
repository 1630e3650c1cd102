//! Process settings that act at start: file-descriptor limit, daemon, pidfile, chroot and
//! privilege drop, in the order HAProxy applies them (listeners are bound before any of the
//! privilege changes, so a proxy started as root can bind port 80 and then run as `haproxy`).

use std::ffi::CString;
use std::io;
use std::path::Path;

/// A start-up step that failed, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot raise the open-file limit to {wanted} (hard limit {hard}): {source}; lower 'maxconn' or 'ulimit-n', or raise the hard limit (ulimit -Hn)")]
    Rlimit {
        wanted: u64,
        hard: u64,
        source: io::Error,
    },
    #[error("unknown user '{0}' in 'user': create it or use 'uid N'")]
    UnknownUser(String),
    #[error("unknown group '{0}' in 'group': create it or use 'gid N'")]
    UnknownGroup(String),
    #[error("cannot {what}: {source}")]
    Sys { what: String, source: io::Error },
}

fn sys(what: impl Into<String>) -> ProcessError {
    ProcessError::Sys {
        what: what.into(),
        source: io::Error::last_os_error(),
    }
}

/// The file-descriptor limit needed for `maxconn` connections: each one may hold a client
/// and a server socket, plus listeners, checks and logs (HAProxy's rule of thumb).
pub fn fd_limit_for(maxconn: u64, listeners: u64, servers: u64) -> u64 {
    maxconn * 2 + listeners + servers + 64
}

/// Raises RLIMIT_NOFILE to at least `wanted`; a clear error when the hard limit forbids it.
pub fn raise_nofile(wanted: u64) -> Result<u64, ProcessError> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(sys("read the open-file limit"));
    }
    if lim.rlim_cur >= wanted {
        return Ok(lim.rlim_cur);
    }
    let mut new = lim;
    new.rlim_cur = wanted;
    if new.rlim_max < wanted {
        new.rlim_max = wanted; // only root may raise the hard limit; the call says if we may not
    }
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(ProcessError::Rlimit {
            wanted,
            hard: lim.rlim_max,
            source: io::Error::last_os_error(),
        });
    }
    Ok(wanted)
}

/// `-m MEGS`: caps the memory the process may allocate (its data segment, where the heap
/// lives), so that running out fails allocations instead of the whole machine.
pub fn limit_memory(megabytes: u64) -> Result<(), ProcessError> {
    let bytes = megabytes.saturating_mul(1024 * 1024);
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &lim) } != 0 {
        return Err(sys(format!("limit memory to {megabytes} MB ('-m')")));
    }
    Ok(())
}

/// The hard limit on open files, i.e. the most [`raise_nofile`] can reach without root.
pub fn nofile_hard_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim.rlim_max)
}

/// Writes our pid, as HAProxy does, followed by a newline.
pub fn write_pidfile(path: &Path) -> Result<(), ProcessError> {
    std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| ProcessError::Sys {
        what: format!("write pidfile '{}'", path.display()),
        source,
    })
}

/// Looks up a user name in the system's user database.
pub fn uid_of(name: &str) -> Result<u32, ProcessError> {
    fulcrum_engine::unix::uid_of(name).ok_or_else(|| ProcessError::UnknownUser(name.to_string()))
}

/// Looks up a group name in the system's group database.
pub fn gid_of(name: &str) -> Result<u32, ProcessError> {
    fulcrum_engine::unix::gid_of(name).ok_or_else(|| ProcessError::UnknownGroup(name.to_string()))
}

/// `chroot`, then the group, then the user: the order in which each step still has the
/// rights the next needs.
pub fn drop_privileges(
    chroot: Option<&Path>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<(), ProcessError> {
    if let Some(dir) = chroot {
        let c = CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| sys(format!("chroot to '{}'", dir.display())))?;
        // SAFETY: plain syscalls with a valid C string.
        unsafe {
            if libc::chroot(c.as_ptr()) != 0 {
                return Err(sys(format!("chroot to '{}'", dir.display())));
            }
            if libc::chdir(c"/".as_ptr()) != 0 {
                return Err(sys("chdir to / after chroot"));
            }
        }
    }
    if let Some(gid) = gid {
        // SAFETY: plain syscalls.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                && io::Error::last_os_error().raw_os_error() != Some(libc::EPERM)
            {
                return Err(sys("drop supplementary groups"));
            }
            if libc::setgid(gid) != 0 {
                return Err(sys(format!("set group id {gid}")));
            }
        }
    }
    if let Some(uid) = uid {
        // SAFETY: plain syscall.
        if unsafe { libc::setuid(uid) } != 0 {
            return Err(sys(format!("set user id {uid}")));
        }
    }
    Ok(())
}

/// Sends `sig` to each pid of a previous process (`-sf` / `-st`); a pid that is gone is fine.
pub fn signal_pids(pids: &[i32], sig: libc::c_int) {
    for &pid in pids {
        if pid > 0 {
            // SAFETY: kill on a positive pid; failure (ESRCH) is ignored on purpose.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_limit_covers_both_sides() {
        assert_eq!(fd_limit_for(1000, 2, 3), 2069);
    }

    #[test]
    fn current_limit_is_enough_for_small_maxconn() {
        assert!(raise_nofile(64).is_ok());
    }

    #[test]
    fn unknown_user_is_named() {
        let e = uid_of("no-such-user-fulcrum").unwrap_err();
        assert!(e.to_string().contains("no-such-user-fulcrum"));
        assert_eq!(uid_of("root").ok(), Some(0));
    }

    #[test]
    fn pidfile_has_our_pid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.pid");
        write_pidfile(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(p).unwrap(),
            format!("{}\n", std::process::id())
        );
    }
}
