//! Log-format parsing as users write it (configuration.txt §8.2.4).

use fulcrum_config::logformat::{
    Flags, Item, LogFormat, Var, HTTPLOG, HTTPLOG_CLF, HTTPSLOG, TCPLOG,
};
use proptest::prelude::*;

#[test]
fn builtin_formats_parse() {
    for f in [HTTPLOG, HTTPLOG_CLF, TCPLOG, HTTPSLOG] {
        LogFormat::parse(f).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

#[test]
fn tcplog_has_no_http_only_variables() {
    assert!(LogFormat::parse(TCPLOG)
        .unwrap()
        .http_only_vars()
        .is_empty());
    assert_eq!(LogFormat::parse(TCPLOG).unwrap().check_mode(false), Ok(()));
    // `%tr` is the first HTTP-only variable of the httplog format.
    assert_eq!(
        LogFormat::parse(HTTPLOG).unwrap().check_mode(false),
        Err("format variable 'tr' is reserved for HTTP mode".to_string())
    );
    assert_eq!(LogFormat::parse(HTTPLOG).unwrap().check_mode(true), Ok(()));
}

#[test]
fn sample_expression_keeps_fetch_and_converters() {
    let f = LogFormat::parse("%{+Q}[req.hdr(host),lower,field(1,:)] x").unwrap();
    let s: Vec<_> = f.samples().collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].fetch, "req.hdr(host)");
    assert_eq!(s[0].converters, vec!["lower", "field(1,:)"]);
    assert!(matches!(
        f.items[0],
        Item::Sample {
            flags: Flags { quote: true, .. },
            ..
        }
    ));
}

#[test]
fn bracket_inside_converter_argument_is_not_the_end() {
    let f = LogFormat::parse("%[path,regsub(^/[a-z]+,x)]").unwrap();
    assert_eq!(
        f.samples().next().unwrap().converters,
        vec!["regsub(^/[a-z]+,x)"]
    );
}

#[test]
fn unknown_variable_is_an_error_naming_it() {
    let e = LogFormat::parse("%ci %zz").unwrap_err();
    assert!(e.contains("'zz'"), "{e}");
    assert!(LogFormat::parse("100% sure").is_err());
    assert!(LogFormat::parse("%[src").is_err());
    assert!(LogFormat::parse("trailing %").is_err());
    assert!(
        LogFormat::parse("%{+Q} x").is_err(),
        "flags need a variable"
    );
}

#[test]
fn flags_follow_haproxy_rules() {
    let flags = |src: &str| match &LogFormat::parse(src).unwrap().items[0] {
        Item::Var { flags, .. } => *flags,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        flags("%{+Q,+X}ci"),
        Flags {
            quote: true,
            hex: true,
            escape: false
        }
    );
    // Unknown names such as M are ignored; the last sign in a token wins.
    assert_eq!(
        flags("%{+M,+E}ci"),
        Flags {
            escape: true,
            ..Flags::default()
        }
    );
    assert_eq!(
        flags("%{+Q+X}ci"),
        Flags {
            hex: true,
            ..Flags::default()
        }
    );
}

#[test]
fn percent_before_punctuation_is_text_and_text_mode_keeps_spaces() {
    let f = LogFormat::parse("50%-off").unwrap();
    assert_eq!(f.items, vec![Item::Text("50%-off".into())]);
    let t = LogFormat::parse_text("%ci  x").unwrap();
    assert_eq!(
        t.items,
        vec![
            Item::Var {
                var: Var::ClientIp,
                flags: Flags::default()
            },
            Item::Text("  x".into())
        ]
    );
}

#[test]
fn double_percent_is_literal_and_spaces_collapse() {
    let f = LogFormat::parse("  a%%b   %ci").unwrap();
    assert_eq!(
        f.items,
        vec![
            Item::Text("a%b".into()),
            Item::Separator,
            Item::Var {
                var: Var::ClientIp,
                flags: Flags::default()
            }
        ]
    );
}

#[test]
fn variable_name_stops_at_punctuation() {
    let f = LogFormat::parse("%Tw/%Tc:%hrl").unwrap();
    let vars: Vec<Var> = f
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Var { var, .. } => Some(*var),
            _ => None,
        })
        .collect();
    assert_eq!(
        vars,
        vec![
            Var::TimeWait,
            Var::TimeConnect,
            Var::CapturedRequestHeadersList
        ]
    );
}

fn arb_piece() -> impl Strategy<Value = String> {
    let var = proptest::sample::select(Var::ALL.to_vec())
        .prop_filter("o prints nothing", |v| *v != Var::FlagsForNext);
    prop_oneof![
        "[/:\\[\\]\"-][a-z/:-]{0,3}",
        Just(" ".to_string()),
        Just("%%".to_string()),
        var.clone().prop_map(|v| format!("%{}", v.code())),
        var.prop_map(|v| format!("%{{+Q,+X}}{}", v.code())),
        "[a-z]{1,5}(\\([a-z0-9]{0,3}\\))?".prop_map(|e| format!("%[{e},lower]")),
    ]
}

proptest! {
    #[test]
    fn display_round_trips(pieces in proptest::collection::vec(arb_piece(), 0..12)) {
        let src: String = pieces.concat();
        let f = LogFormat::parse(&src).unwrap();
        let again = LogFormat::parse(&f.to_string()).unwrap();
        prop_assert_eq!(f.items, again.items);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = LogFormat::parse(&s);
    }
}
