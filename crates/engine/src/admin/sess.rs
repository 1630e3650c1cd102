//! Runtime API commands over live sessions and frontends (`show sess` is in
//! `sess_dump`): `shutdown session(s)`, `disable|enable|shutdown frontend`, `set maxconn
//! frontend|global`. Texts follow HAProxy's CLI.

use crate::health_link::Core;
use crate::limits::Listening;

const NO_SUCH_FRONTEND: &str = "No such frontend.\n";
const NO_SUCH_SESSION: &str = "No such session (use 'show sess').\n";

impl Core {
    fn frontend(&self, name: &str) -> Result<usize, String> {
        self.rt
            .frontends
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| NO_SUCH_FRONTEND.to_string())
    }

    pub(crate) fn sess_kill(&self, id: &str) -> Result<String, String> {
        let Some(id) = parse_id(id) else {
            return Err("Session pointer expected (use 'show sess').\n".into());
        };
        if self.sessions.kill(id) {
            Ok(String::new())
        } else {
            Err(NO_SUCH_SESSION.into())
        }
    }

    pub(crate) fn sess_kill_server(&self, b: &str, s: &str) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        self.sessions
            .kill_where(bi, fulcrum_observe::log::TermCause::Killed, |x| x == si);
        Ok(String::new())
    }

    pub(crate) fn fe_enable(&self, f: &str, on: bool) -> Result<String, String> {
        let fi = self.frontend(f)?;
        let st = &self.ctl.listening[fi];
        match (*st.borrow(), on) {
            (Listening::Shut, true) => {
                return Err("Frontend was previously shut down, cannot enable.\n".into())
            }
            (Listening::Shut, false) => {
                return Err("Frontend was previously shut down, cannot disable.\n".into())
            }
            (Listening::Run, true) => return Err("Frontend is already enabled.\n".into()),
            (Listening::Paused, false) => return Err("Frontend is already disabled.\n".into()),
            _ => {}
        }
        st.send_replace(if on {
            Listening::Run
        } else {
            Listening::Paused
        });
        Ok(String::new())
    }

    pub(crate) fn fe_shutdown(&self, f: &str) -> Result<String, String> {
        let fi = self.frontend(f)?;
        let st = &self.ctl.listening[fi];
        if *st.borrow() == Listening::Shut {
            return Err("Frontend was already shut down.\n".into());
        }
        st.send_replace(Listening::Shut);
        // The copies kept for a reload would keep the sockets listening.
        self.handover.forget(fi);
        tracing::warn!("Proxy {f} stopped.");
        Ok(String::new())
    }

    pub(crate) fn fe_maxconn(&self, f: &str, v: u32) -> Result<String, String> {
        let fi = self.frontend(f)?;
        self.ctl.frontends[fi].resize(v as usize);
        self.ctl.retake(Some(fi));
        Ok(String::new())
    }

    pub(crate) fn global_maxconn(&self, v: u32) -> Result<String, String> {
        if v == 0 {
            return Err("Value out of range.\n".into());
        }
        self.ctl.global.resize(v as usize);
        self.ctl.retake(None);
        Ok(String::new())
    }
}

/// A session id as `show sess` prints it (`0x1a2b`), or in decimal.
pub(super) fn parse_id(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_id;

    #[test]
    fn ids_read_back_as_shown() {
        assert_eq!(parse_id("0x1a0"), Some(0x1a0));
        assert_eq!(parse_id("416"), Some(416));
        assert_eq!(parse_id("zz"), None);
    }
}
