//! The stats page's admin form: the POST body HAProxy's page sends
//! (`s=SRV&s=SRV2&action=maint&b=%23<iid>`) and the `;st=` outcome codes.

use crate::error::ObserveError;

/// Actions offered by the page's select box, with HAProxy's values and labels.
pub const ADMIN_ACTIONS: &[(&str, &str)] = &[
    ("ready", "Set state to READY"),
    ("drain", "Set state to DRAIN"),
    ("maint", "Set state to MAINT"),
    ("dhlth", "Health: disable checks"),
    ("ehlth", "Health: enable checks"),
    ("hrunn", "Health: force UP"),
    ("hnolb", "Health: force NOLB"),
    ("hdown", "Health: force DOWN"),
    ("dagent", "Agent: disable checks"),
    ("eagent", "Agent: enable checks"),
    ("arunn", "Agent: force UP"),
    ("adown", "Agent: force DOWN"),
    ("shutdown", "Kill Sessions"),
];

/// One admin action on the checked servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminAction {
    /// Leave maintenance/drain.
    Ready,
    Drain,
    Maint,
    DisableHealth,
    EnableHealth,
    /// Force the health-check state up.
    HealthUp,
    HealthNoLb,
    HealthDown,
    DisableAgent,
    EnableAgent,
    AgentUp,
    AgentDown,
    /// Kill the servers' sessions.
    Shutdown,
}

impl AdminAction {
    pub fn parse(value: &str) -> Option<AdminAction> {
        Some(match value {
            "ready" => AdminAction::Ready,
            "drain" => AdminAction::Drain,
            "maint" => AdminAction::Maint,
            "dhlth" => AdminAction::DisableHealth,
            "ehlth" => AdminAction::EnableHealth,
            "hrunn" => AdminAction::HealthUp,
            "hnolb" => AdminAction::HealthNoLb,
            "hdown" => AdminAction::HealthDown,
            "dagent" => AdminAction::DisableAgent,
            "eagent" => AdminAction::EnableAgent,
            "arunn" => AdminAction::AgentUp,
            "adown" => AdminAction::AgentDown,
            "shutdown" => AdminAction::Shutdown,
            _ => return None,
        })
    }
}

/// `b=`: `#<iid>` or a backend name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendRef {
    Id(u32),
    Name(String),
}

/// A parsed admin POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRequest {
    pub backend: BackendRef,
    pub action: AdminAction,
    pub servers: Vec<String>,
}

/// Decodes `application/x-www-form-urlencoded` text; `None` on bad escapes.
fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl AdminRequest {
    /// Parses the form body; every field may come in any order.
    pub fn parse(body: &[u8]) -> Result<AdminRequest, ObserveError> {
        let err = |m: &str| ObserveError::Admin(m.to_string());
        let text = std::str::from_utf8(body).map_err(|_| err("body is not UTF-8"))?;
        let mut backend = None;
        let mut action = None;
        let mut servers = Vec::new();
        for pair in text.trim_end_matches(['\r', '\n']).split('&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = url_decode(v).ok_or_else(|| err("bad %-escape"))?;
            match k {
                "b" => {
                    backend = Some(match v.strip_prefix('#') {
                        Some(id) => BackendRef::Id(id.parse().map_err(|_| err("bad backend id"))?),
                        None => BackendRef::Name(v),
                    })
                }
                "action" => {
                    action = Some(AdminAction::parse(&v).ok_or_else(|| err("unknown action"))?)
                }
                "s" => servers.push(v),
                _ => {}
            }
        }
        Ok(AdminRequest {
            backend: backend.ok_or_else(|| err("missing backend"))?,
            action: action.ok_or_else(|| err("missing action"))?,
            servers,
        })
    }
}

/// The result code the page redirects to (`<uri>;st=DONE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminOutcome {
    Done,
    None,
    Partial,
    InvalidParams,
    Excess,
    Denied,
    Unknown,
}

impl AdminOutcome {
    pub fn code(self) -> &'static str {
        match self {
            AdminOutcome::Done => "DONE",
            AdminOutcome::None => "NONE",
            AdminOutcome::Partial => "PART",
            AdminOutcome::InvalidParams => "ERRP",
            AdminOutcome::Excess => "EXCD",
            AdminOutcome::Denied => "DENY",
            AdminOutcome::Unknown => "UNKN",
        }
    }
    pub fn from_code(code: &str) -> Option<AdminOutcome> {
        [
            AdminOutcome::Done,
            AdminOutcome::None,
            AdminOutcome::Partial,
            AdminOutcome::InvalidParams,
            AdminOutcome::Excess,
            AdminOutcome::Denied,
            AdminOutcome::Unknown,
        ]
        .into_iter()
        .find(|o| o.code() == code)
    }
    pub fn is_success(self) -> bool {
        matches!(self, AdminOutcome::Done | AdminOutcome::None)
    }
    /// The sentence the page shows.
    pub fn message(self) -> &'static str {
        match self {
            AdminOutcome::Done => "Action processed successfully.",
            AdminOutcome::None => "Nothing has changed.",
            AdminOutcome::Partial => {
                "Action not processed for some servers (unknown or not applicable)."
            }
            AdminOutcome::InvalidParams => "Action not processed because of invalid parameters.",
            AdminOutcome::Excess => "Action not processed: the request was too large.",
            AdminOutcome::Denied => "Action denied.",
            AdminOutcome::Unknown => "Unexpected result.",
        }
    }
}

/// Where the page redirects (303) after a POST: `<uri>;st=<CODE>`.
pub fn redirect_location(stats_uri: &str, outcome: AdminOutcome) -> String {
    format!("{stats_uri};st={}", outcome.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_haproxy_form_in_any_order() {
        let r = AdminRequest::parse(b"s=web1&s=web%202&action=maint&b=%233").unwrap();
        assert_eq!(r.backend, BackendRef::Id(3));
        assert_eq!(r.action, AdminAction::Maint);
        assert_eq!(r.servers, vec!["web1", "web 2"]);
        let r = AdminRequest::parse(b"b=app&action=drain").unwrap();
        assert_eq!(r.backend, BackendRef::Name("app".into()));
        assert!(r.servers.is_empty());
    }

    #[test]
    fn every_page_action_parses() {
        for (v, _) in ADMIN_ACTIONS {
            assert!(AdminAction::parse(v).is_some(), "{v}");
        }
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(AdminRequest::parse(b"s=a&action=explode&b=%231").is_err());
        assert!(AdminRequest::parse(b"s=a&action=maint").is_err());
        assert!(AdminRequest::parse(b"s=a%2&action=maint&b=x").is_err());
        assert!(AdminRequest::parse(b"b=%23x&action=maint").is_err());
    }

    #[test]
    fn outcome_codes_round_trip() {
        for code in ["DONE", "NONE", "PART", "ERRP", "EXCD", "DENY", "UNKN"] {
            assert_eq!(
                AdminOutcome::from_code(code).map(AdminOutcome::code),
                Some(code)
            );
        }
    }
}
