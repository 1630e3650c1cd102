//! The config model's typed `log` lines → [`LogServer`]s, shared by every place that
//! opens loggers (request logs, health and event logs).

use super::ring::{ring_server, Rings};
use super::syslog::LogServer;
use crate::error::ObserveError;
use fulcrum_config::model::addr::{Address, Host, Ports};
use fulcrum_config::model::log::{LogTarget, FACILITIES, LEVELS};

/// The logger for one `log` line; `Ok(None)` for targets not served yet (`ring@`
/// without rings, a wildcard or abstract address), with the reason in the error otherwise.
pub fn log_server(t: &LogTarget) -> Result<Option<LogServer>, ObserveError> {
    let Some(words) = words(t) else {
        return Ok(None);
    };
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    LogServer::parse(&refs).map(Some)
}

/// [`log_server`], with `ring@NAME` lines sent to their ring of `rings`.
pub fn log_server_in(t: &LogTarget, rings: &Rings) -> Result<Option<LogServer>, ObserveError> {
    let Some(name) = &t.ring else {
        return log_server(t);
    };
    let ring = rings.get(name).ok_or_else(|| {
        ObserveError::LogConfig(format!("log server uses unknown ring named '{name}'"))
    })?;
    // The line's own settings, read as for any target, then pointed at the ring.
    let line = log_server(&LogTarget {
        address: fulcrum_config::model::addr::Address::Fd(2),
        ring: None,
        ..t.clone()
    })?;
    Ok(line.map(|l| ring_server(&l, ring)))
}

/// The words after `log` for one typed target, as [`LogServer::parse`] reads them.
fn words(t: &LogTarget) -> Option<Vec<String>> {
    if t.ring.is_some() {
        return None;
    }
    let addr = match &t.address {
        Address::Inet { host, ports, .. } => {
            let port = match ports {
                Ports::One(p) => *p,
                _ => 514,
            };
            match host {
                Host::Ip(ip) => std::net::SocketAddr::new(*ip, port).to_string(),
                Host::Name(n) => format!("{n}:{port}"),
                Host::Wildcard => return None,
            }
        }
        Address::Unix(p) => p.display().to_string(),
        Address::Fd(1) => "stdout".into(),
        Address::Fd(2) => "stderr".into(),
        _ => return None,
    };
    let mut w = vec![addr];
    if let Some(l) = t.len {
        w.extend(["len".to_string(), l.to_string()]);
    }
    if let Some(f) = &t.format {
        w.extend(["format".to_string(), f.clone()]);
    }
    if let Some(s) = &t.sample {
        w.extend(["sample".to_string(), s.clone()]);
    }
    w.push(FACILITIES.get(usize::from(t.facility))?.to_string());
    w.push(LEVELS.get(usize::from(t.max_level))?.to_string());
    w.push(LEVELS.get(usize::from(t.min_level))?.to_string());
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::reader::MapEnv;

    fn first_target(line: &str) -> LogTarget {
        let l = fulcrum_config::load_str("l.cfg", &format!("global\n    {line}\n"), &MapEnv::new());
        l.config.unwrap().global.logs[0].clone()
    }

    #[test]
    fn ring_lines_take_the_rings_format_and_both_lengths() {
        let text = "global\n    log ring@wide len 80 format raw local0 info\n\
                    \x20   log ring@narrow len 80 local0 info\n\
                    ring wide\n    format rfc5424\n    maxlen 200\n\
                    ring narrow\n    format rfc5424\n    maxlen 100\n";
        let cfg = fulcrum_config::load_str("l.cfg", text, &MapEnv::new())
            .config
            .unwrap();
        let rings = Rings::from_config(&cfg);
        let servers: Vec<LogServer> = (cfg.global.logs.iter())
            .map(|t| log_server_in(t, &rings).unwrap().unwrap())
            .collect();
        // The ring's format, not the `log` line's.
        assert_eq!(servers[0].format, crate::log::SyslogFormat::Rfc5424);
        let nope = LogTarget {
            ring: Some("nope".into()),
            ..cfg.global.logs[0].clone()
        };
        assert!(log_server_in(&nope, &rings).is_err());
        let logger = crate::log::Logger::start(servers, Default::default(), 4).unwrap();
        logger.try_log(crate::log::LogMessage {
            severity: crate::log::Severity::Info,
            time: std::time::SystemTime::now(),
            sd: String::new(),
            body: vec![b'x'; 300],
            tag: None,
        });
        drop(logger); // waits until the queue is written
        let line = |ring: &str| {
            let (lines, _) = rings.get(ring).unwrap().snapshot();
            String::from_utf8_lossy(&lines[0]).into_owned()
        };
        // `len 80` cuts the message, then the ring adds its header (no newline kept)...
        let wide = line("wide");
        assert!(wide.starts_with("<134>1 20"), "{wide}");
        assert_eq!(wide.len() - wide.trim_end_matches('x').len(), 80, "{wide}");
        // ...and cuts the whole to its `maxlen`.
        let narrow = line("narrow");
        assert!(narrow.starts_with("<134>1 20"), "{narrow}");
        assert_eq!(narrow.len(), 100, "{narrow}");
    }

    #[test]
    fn udp_unix_and_stdout_targets() {
        let s = log_server(&first_target(
            "log 127.0.0.1:5140 len 2048 format rfc5424 local3 notice",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((s.max_len, s.level.code()), (2048, 5));
        assert!(log_server(&first_target("log /dev/log local0"))
            .unwrap()
            .is_some());
        assert!(log_server(&first_target("log stdout format raw local0"))
            .unwrap()
            .is_some());
    }
}
