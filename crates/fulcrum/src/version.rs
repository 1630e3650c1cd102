//! `-v` and `-vv`: what this build is and what it supports, laid out as HAProxy's so that
//! scripts reading `version` lines keep working.

use std::fmt::Write;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `fulcrum -v`.
pub fn short() -> String {
    format!(
        "Fulcrum version {VERSION} - HAProxy {} configuration language\n",
        fulcrum_config::reader::COMPAT_VERSION
    )
}

/// `fulcrum -vv`: the version, then build options, features, pollers, protocols and services.
pub fn verbose() -> String {
    let mut s = short();
    let _ = writeln!(s);
    let _ = writeln!(s, "Build options :");
    let _ = writeln!(
        s,
        "  TARGET  = {}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    let _ = writeln!(
        s,
        "  PROFILE = {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let _ = writeln!(s);
    let features: Vec<String> = fulcrum_config::reader::FEATURES
        .iter()
        .map(|f| format!("+{f}"))
        .collect();
    let _ = writeln!(s, "Feature list : {}", features.join(" "));
    let _ = writeln!(s);
    let _ = writeln!(s, "Default settings :");
    let _ = writeln!(
        s,
        "  bufsize = 16384, maxrewrite = 1024, maxpollevents = 200"
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Available polling systems :");
    let _ = writeln!(
        s,
        "      epoll : pref=300,  test result OK (tokio, one current-thread runtime per thread)"
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Available multiplexer protocols :");
    let _ = writeln!(s, "       h1 : mode=HTTP  side=FE|BE");
    let _ = writeln!(s, "     none : mode=TCP   side=FE|BE");
    let _ = writeln!(s);
    let _ = writeln!(s, "Available services : prometheus-exporter");
    let _ = writeln!(s);
    let _ = writeln!(s, "Available filters : none");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_lists_features_and_services() {
        let v = verbose();
        assert!(v.starts_with("Fulcrum version "));
        assert!(v.contains("Feature list : +"));
        assert!(v.contains("Available services : prometheus-exporter"));
    }
}
