//! The `%` variables that action arguments and `unique-id-format` read while
//! the request's rules run, printed by the log renderer itself so that an id
//! such as `%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid` has HAProxy's shape and
//! agrees with the line logged for the same request.

use super::super::session::Session;
use super::ReqView;
use fulcrum_config::logformat::{Flags, Var};
use fulcrum_observe::log::LogRecord;
use std::time::SystemTime;

/// What the session knows of the request when its rules run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamp {
    accept_date: SystemTime,
    request_date: Option<SystemTime>,
    /// `%rt`: the log line prints the same (see `TxnLog::counter`).
    counter: u64,
}

impl Stamp {
    pub(super) fn of(s: &Session<'_>) -> Stamp {
        match s.log.as_deref() {
            Some(l) => Stamp {
                accept_date: l.accept_date,
                request_date: l.request_start.map(|r| r.1),
                counter: l
                    .request_counter
                    .unwrap_or_else(crate::log::next_request_counter),
            },
            // Nothing is logged: the id still counts requests.
            None => Stamp {
                accept_date: SystemTime::now(),
                request_date: None,
                counter: crate::log::next_request_counter(),
            },
        }
    }
}

/// Renders `var` when it is known at request time; `false` leaves it to the
/// rules (request line pieces, which follow the rules' rewrites) or `-`.
pub(super) fn log_var(v: &ReqView<'_>, var: Var, flags: Flags, out: &mut Vec<u8>) -> bool {
    let known = matches!(
        var,
        Var::ClientIp
            | Var::ClientPort
            | Var::FrontendIp
            | Var::FrontendPort
            | Var::FrontendName
            | Var::FrontendNameTransport
            | Var::BackendName
            | Var::Hostname
            | Var::Pid
            | Var::RequestCounter
            | Var::LogCounter
            | Var::Timestamp
            | Var::AcceptMillis
            | Var::Date
            | Var::GmtDate
            | Var::LocalDate
            | Var::RequestDate
            | Var::RequestGmtDate
            | Var::RequestLocalDate
            | Var::UniqueId
    );
    if !known {
        return false;
    }
    let st = v.stamp;
    let rec = LogRecord {
        accept_date: st.accept_date,
        request_date: st.request_date,
        utc_offset: fulcrum_observe::time::local_offset(st.accept_date),
        client: Some(v.src),
        frontend_addr: Some(v.dst),
        frontend: v.fe.name.clone(),
        // Before `use_backend`, HAProxy's stream backend is the frontend.
        backend: v.be.map_or_else(|| v.fe.name.clone(), |b| b.name.clone()),
        hostname: crate::log::hostname().to_owned(),
        pid: std::process::id(),
        request_counter: st.counter,
        unique_id: v
            .fx
            .unique_id
            .as_deref()
            .map(|u| String::from_utf8_lossy(u).into_owned()),
        ..LogRecord::default()
    };
    fulcrum_observe::log::render_var(var, flags, &rec, out);
    true
}
