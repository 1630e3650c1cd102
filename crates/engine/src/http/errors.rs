//! Error responses: `errorfile`/`errorloc`/`errorfiles` overrides, else
//! HAProxy's built-in pages from fulcrum-proto.

use crate::runtime::ErrorPages;

/// The page to send: the backend's override, else the frontend's, else the default.
pub(crate) fn page<'a>(status: u16, be: Option<&'a ErrorPages>, fe: &'a ErrorPages) -> &'a [u8] {
    if let Some(p) = be.and_then(|b| b.by_status.get(&status)) {
        return p;
    }
    if let Some(p) = fe.by_status.get(&status) {
        return p;
    }
    fulcrum_proto::errors::default_error(status)
}
