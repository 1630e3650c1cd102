//! `monitor-uri` and `monitor fail if|unless COND`: the proxy answers a
//! load balancer's probe itself, 200 while healthy, 503 when the condition
//! (typically on `nbsrv()`) says the site is dead.

use crate::runtime::{Frontend, Runtime};
use crate::EngineError;
use fulcrum_config::model::{Config, Proxy};
use std::sync::Arc;

/// HAProxy's answer while the monitor condition holds the site healthy.
const READY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-length: 58\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n";

pub(crate) struct Monitor {
    pub uri: String,
    pub fail: Option<fulcrum_rules::Cond>,
}

fn monitor_of(p: &Proxy) -> Result<Option<Monitor>, EngineError> {
    let Some(uri) = &p.monitor_uri else {
        return Ok(None);
    };
    let fail = match &p.monitor_fail {
        None => None,
        Some(c) => {
            let input = fulcrum_rules::ProxyInput {
                name: &p.name,
                acls: &p.acls,
                monitor_fail: Some(c),
                ..Default::default()
            };
            let env = fulcrum_rules::CompileEnv::new(std::path::PathBuf::new());
            let c = fulcrum_rules::compile_proxy(&input, &env).map_err(|errs| {
                EngineError::Config(
                    errs.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            })?;
            c.monitor_fail
        }
    };
    Ok(Some(Monitor {
        uri: uri.clone(),
        fail,
    }))
}

/// Per frontend index: its `monitor-uri`, if any.
pub(crate) fn monitors(
    cfg: &Config,
    rt: &Runtime,
) -> Result<Vec<Option<Arc<Monitor>>>, EngineError> {
    rt.frontends
        .iter()
        .map(|fe| {
            let p = cfg
                .proxies
                .iter()
                .find(|p| p.name == fe.name && !p.disabled);
            Ok(p.map(monitor_of).transpose()?.flatten().map(Arc::new))
        })
        .collect()
}

impl Monitor {
    /// Whether `target` (the request URI) is the monitor URI: compared on
    /// the path, as HAProxy does for URIs starting with `/`.
    pub(crate) fn matches(&self, target: &str) -> bool {
        let path = target.split('?').next().unwrap_or(target);
        if self.uri.starts_with('/') {
            path == self.uri
        } else {
            target == self.uri
        }
    }

    /// 200, or the frontend's 503 page when `failed`.
    pub(crate) fn answer(fe: &Frontend, failed: bool) -> Vec<u8> {
        if !failed {
            return READY.to_vec();
        }
        match fe.errors.by_status.get(&503) {
            Some(page) => page.to_vec(),
            None => fulcrum_proto::errors::default_error(503).to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_compared_without_the_query() {
        let m = Monitor {
            uri: "/site_status".into(),
            fail: None,
        };
        assert!(m.matches("/site_status"));
        assert!(m.matches("/site_status?x=1"));
        assert!(!m.matches("/site_status/x"));
        assert!(!m.matches("/other"));
    }
}
