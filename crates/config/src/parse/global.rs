//! The `global` section (configuration.txt §3). Several `global` sections merge.

use super::value::{parse_size, parse_time, parse_uint, TimeUnit};
use crate::diag::{closest, Diagnostic, Diagnostics, Span};
use crate::model::global::CpuMap;
use crate::model::Global;
use crate::reader::SourceLine;

/// Keywords parsed and kept as written, with a notice: Fulcrum does not act on them yet.
const ACCEPTED: &[&str] = &[
    "lua-load",
    "lua-load-per-thread",
    "lua-prepend-path",
    "localpeer",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "expose-experimental-directives",
    "set-dumpable",
    "busy-polling",
    "noepoll",
    "nokqueue",
    "noevports",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "h1-case-adjust",
    "h1-case-adjust-file",
    "external-check",
    "maxpipes",
    "maxcomprate",
    "maxcompcpuusage",
    "maxzlibmem",
    "ssl-engine",
    "ssl-mode-async",
    "thread-groups",
    "numa-cpu-mapping",
    "profiling.tasks",
    "profiling.memory",
    "pp2-never-send-local",
    "ssl-load-extra-files",
    "ssl-dh-param-file",
    "issuers-chain-path",
    "default-path",
    "fd-hard-limit",
    "cluster-secret",
    "ssl-default-bind-curves",
    "ssl-default-server-curves",
    "ssl-default-bind-sigalgs",
    "ssl-default-bind-client-sigalgs",
    "ssl-default-server-sigalgs",
    "ssl-default-server-client-sigalgs",
    "ssl-skip-self-issued-ca",
    "ssl-load-extra-del-ext",
    "ssl-propquery",
    "ssl-provider",
    "ssl-provider-path",
    "httpclient.resolvers.id",
    "httpclient.resolvers.prefer",
    "httpclient.retries",
    "httpclient.ssl.ca-file",
    "httpclient.ssl.verify",
    "httpclient.timeout.connect",
    "max-spread-checks",
    "mworker-max-reloads",
    "no-memory-trimming",
    "grace",
];

/// Every keyword this section knows, for "did you mean".
const KNOWN: &[&str] = &[
    "daemon",
    "master-worker",
    "pidfile",
    "user",
    "group",
    "uid",
    "gid",
    "chroot",
    "ulimit-n",
    "maxconn",
    "maxconnrate",
    "maxsessrate",
    "maxsslconn",
    "nbthread",
    "nbproc",
    "cpu-map",
    "log",
    "log-tag",
    "log-send-hostname",
    "stats",
    "spread-checks",
    "hard-stop-after",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "ssl-server-verify",
    "ca-base",
    "crt-base",
    "node",
    "description",
    "quiet",
    "debug",
    "zero-warning",
    "strict-limits",
    "setenv",
    "presetenv",
    "resetenv",
    "unsetenv",
    "server-state-file",
    "server-state-base",
    "tune.bufsize",
    "tune.maxrewrite",
    "unix-bind",
];

pub(crate) fn keyword(line: &SourceLine, g: &mut Global, d: &mut Diagnostics) {
    let (kw, args, span) = (line.words[0].as_str(), &line.words[1..], &line.span);
    if let Err(e) = set(kw, args, span, g, d) {
        d.push(Diagnostic::alert(span, e));
    }
}

fn first<'a>(kw: &str, args: &'a [String], what: &str) -> Result<&'a str, String> {
    args.first()
        .map(String::as_str)
        .ok_or_else(|| format!("'{kw}' expects {what}"))
}

fn set(
    kw: &str,
    args: &[String],
    span: &Span,
    g: &mut Global,
    d: &mut Diagnostics,
) -> Result<(), String> {
    let one = || first(kw, args, "a value");
    match kw {
        "daemon" => g.daemon = true,
        "master-worker" => g.master_worker = true,
        "quiet" => g.quiet = true,
        "debug" => g.debug = true,
        "zero-warning" => g.zero_warning = true,
        "strict-limits" => g.strict_limits = true,
        "pidfile" => g.pidfile = Some(first(kw, args, "a file path")?.into()),
        "chroot" => g.chroot = Some(first(kw, args, "a directory")?.into()),
        "ca-base" => g.ca_base = Some(first(kw, args, "a directory")?.into()),
        "crt-base" => g.crt_base = Some(first(kw, args, "a directory")?.into()),
        "server-state-file" => g.server_state_file = Some(one()?.into()),
        "server-state-base" => g.server_state_base = Some(one()?.into()),
        "user" => g.user = Some(first(kw, args, "a user name")?.to_string()),
        "group" => g.group = Some(first(kw, args, "a group name")?.to_string()),
        "uid" => g.uid = Some(parse_uint(one()?, kw)?),
        "gid" => g.gid = Some(parse_uint(one()?, kw)?),
        "ulimit-n" => g.ulimit_n = Some(parse_uint(one()?, kw)?),
        "maxconn" => g.maxconn = Some(parse_uint(one()?, kw)?),
        "maxconnrate" => g.maxconnrate = Some(parse_uint(one()?, kw)?),
        "maxsessrate" => g.maxsessrate = Some(parse_uint(one()?, kw)?),
        "maxsslconn" => g.maxsslconn = Some(parse_uint(one()?, kw)?),
        "nbthread" => g.nbthread = Some(positive(one()?, kw)?),
        "nbproc" => {
            let n = positive(one()?, kw)?;
            g.nbproc = Some(n);
            d.push(
                Diagnostic::warning(span, format!("'nbproc' is not supported anymore since HAProxy 2.5; Fulcrum runs {n} thread(s) instead"))
                    .with_hint(format!("write 'nbthread {n}'")),
            );
        }
        "cpu-map" => g.cpu_map.push(CpuMap::parse(args)?),
        "log" => {
            if args.first().map(String::as_str) == Some("global") {
                return Err("'log global' is only meaningful in proxy sections".into());
            }
            g.logs
                .push(super::log::parse_target(args, span).map_err(|e| e.message)?);
        }
        "log-tag" => g.log_tag = Some(one()?.to_string()),
        "log-send-hostname" => g.log_send_hostname = Some(args.first().cloned()),
        "node" => g.node = Some(one()?.to_string()),
        "description" => g.description = Some(args.join(" ")),
        "stats" => stats(args, span, g, d)?,
        "spread-checks" => {
            let n: u32 = parse_uint(one()?, kw)?;
            if n > 50 {
                return Err(format!(
                    "'spread-checks' expects a percentage between 0 and 50, found '{n}'"
                ));
            }
            g.spread_checks = Some(n);
        }
        "hard-stop-after" => {
            g.hard_stop_after =
                Some(parse_time(one()?, TimeUnit::Millis).map_err(|e| format!("'{kw}': {e}"))?)
        }
        "tune.bufsize" => {
            g.tune_bufsize = Some(parse_size(one()?).map_err(|e| format!("'{kw}': {e}"))?)
        }
        "tune.maxrewrite" => {
            g.tune_maxrewrite = Some(parse_size(one()?).map_err(|e| format!("'{kw}': {e}"))?)
        }
        "ssl-default-bind-ciphers" => g.ssl_default_bind_ciphers = Some(one()?.to_string()),
        "ssl-default-bind-ciphersuites" => {
            g.ssl_default_bind_ciphersuites = Some(one()?.to_string())
        }
        "ssl-default-bind-options" => g.ssl_default_bind_options = args.to_vec(),
        "ssl-default-server-ciphers" => g.ssl_default_server_ciphers = Some(one()?.to_string()),
        "ssl-default-server-ciphersuites" => {
            g.ssl_default_server_ciphersuites = Some(one()?.to_string())
        }
        "ssl-default-server-options" => g.ssl_default_server_options = args.to_vec(),
        "ssl-server-verify" => match one()? {
            v @ ("none" | "required") => g.ssl_server_verify = Some(v.to_string()),
            v => {
                return Err(format!(
                    "'ssl-server-verify' expects 'none' or 'required', found '{v}'"
                ))
            }
        },
        "unix-bind" => unix_bind(args, &mut g.unix_bind)?,
        "set-var" | "set-var-fmt" => {
            let v = crate::rules::parse_global_var(kw == "set-var-fmt", args, span);
            g.set_vars.push(v.map_err(|e| e.message)?)
        }
        "setenv" | "presetenv" | "resetenv" | "unsetenv" => {
            g.env_ops.push((kw.to_string(), args.to_vec()))
        }
        _ if kw.starts_with("tune.") => {
            g.tune_other.insert(kw.to_string(), args.join(" "));
            d.push(Diagnostic::notice(
                span,
                format!("'{kw}' parsed, not yet supported"),
            ));
        }
        _ if ACCEPTED.contains(&kw) => {
            g.other.push((kw.to_string(), args.to_vec()));
            d.push(Diagnostic::notice(
                span,
                format!("'{kw}' parsed, not yet supported"),
            ));
        }
        _ => {
            let diag =
                Diagnostic::alert(span, format!("unknown keyword '{kw}' in 'global' section"));
            d.push(
                match closest(kw, KNOWN.iter().chain(ACCEPTED.iter()).copied()) {
                    Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
                    None => diag,
                },
            );
        }
    }
    Ok(())
}

/// `unix-bind`: keyword/value pairs, each as the `bind` option of the same name.
fn unix_bind(args: &[String], u: &mut crate::model::global::UnixBind) -> Result<(), String> {
    if args.is_empty() {
        return Err("'unix-bind' expects 'prefix', 'mode', 'user', 'uid', 'group' or 'gid'".into());
    }
    for pair in args.chunks(2) {
        let (w, v) = match pair {
            [w, v] => (w.as_str(), v.as_str()),
            [w] => return Err(format!("'unix-bind {w}' expects a value")),
            _ => continue,
        };
        match w {
            "prefix" => u.prefix = Some(v.to_string()),
            "mode" => {
                u.mode = Some(u32::from_str_radix(v, 8).map_err(|_| {
                    format!("'unix-bind mode' expects an octal permission like 660, found '{v}'")
                })?)
            }
            "uid" => u.uid = Some(parse_uint(v, "uid")?),
            "gid" => u.gid = Some(parse_uint(v, "gid")?),
            "user" => u.user = Some(v.to_string()),
            "group" => u.group = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "'unix-bind' does not know '{w}' (expects 'prefix', 'mode', 'user', 'uid', 'group' or 'gid')"
                ))
            }
        }
    }
    Ok(())
}

fn positive(w: &str, kw: &str) -> Result<u32, String> {
    match parse_uint::<u32>(w, kw)? {
        0 => Err(format!("'{kw}' expects a number greater than 0")),
        n => Ok(n),
    }
}

/// `stats socket ADDR [options]`, `stats timeout T`, `stats maxconn N`, `stats bind-process …`.
fn stats(args: &[String], span: &Span, g: &mut Global, d: &mut Diagnostics) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("socket") => {
            if let Some(b) = super::bind::parse(&args[1..], span, "stats socket", d) {
                g.stats_sockets.push(b);
            }
        }
        Some("timeout") => {
            g.stats_timeout = Some(
                parse_time(first("stats timeout", &args[1..], "a time")?, TimeUnit::Millis)
                    .map_err(|e| format!("'stats timeout': {e}"))?,
            )
        }
        Some("maxconn") => g.stats_maxconn = Some(parse_uint(first("stats maxconn", &args[1..], "a number")?, "stats maxconn")?),
        Some("bind-process") => d.push(Diagnostic::warning(span, "'stats bind-process' is not supported anymore since HAProxy 2.5; ignored").with_hint("remove the line")),
        other => {
            return Err(format!(
                "'stats' in 'global' expects 'socket', 'timeout', 'maxconn' or 'bind-process', found '{}'",
                other.unwrap_or("")
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::global::UnixBind;

    #[test]
    fn unix_bind_pairs() {
        let mut u = UnixBind::default();
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        super::unix_bind(&w("prefix /var/lib/h/ mode 640 uid 12 group adm"), &mut u).unwrap();
        assert_eq!(u.prefix.as_deref(), Some("/var/lib/h/"));
        assert_eq!(u.mode, Some(0o640));
        assert_eq!((u.uid, u.group.as_deref()), (Some(12), Some("adm")));
        assert!(super::unix_bind(&w("mode 9x"), &mut u).is_err());
        assert!(super::unix_bind(&w("mode"), &mut u).is_err());
        assert!(super::unix_bind(&w("owner x"), &mut u).is_err());
    }
}
