//! `force-persist` / `ignore-persist` and the stick-table fetch names as a user writes them.

use fulcrum_config::diag::{Level, Span};
use fulcrum_config::reader::Env;
use fulcrum_config::rules::{parse_acl, parse_sample_expr, AclRef, MatchMethod, SmpType};

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fn load(backend: &str) -> fulcrum_config::Loaded {
    let text = format!(
        "frontend fe\n  mode http\n  bind :80\n  default_backend be\n\
         backend be\n  mode http\n{backend}  server s1 127.0.0.1:8080\n"
    );
    fulcrum_config::load_str("p.cfg", &text, &NoEnv)
}

fn sp() -> Span {
    Span::new("p.cfg", 3)
}

fn w(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn force_and_ignore_persist_are_typed_conditions_without_notice() {
    let l = load(
        "  acl maint hdr(X-Maint) -m found\n  acl static path_beg /static\n\
         force-persist if maint\n  ignore-persist if static || { src 10.0.0.0/8 }\n  ignore-persist unless maint\n",
    );
    let notices: Vec<_> = l
        .diagnostics
        .items
        .iter()
        .filter(|d| d.level >= Level::Notice && d.message.contains("persist"))
        .collect();
    assert!(notices.is_empty(), "{notices:?}");
    let cfg = l.config.unwrap();
    let be = cfg.proxies.iter().find(|p| p.name == "be").unwrap();
    assert_eq!(be.force_persist.len(), 1);
    assert!(!be.force_persist[0].unless);
    assert_eq!(
        be.force_persist[0].groups[0][0].acl,
        AclRef::Named("maint".into())
    );
    assert_eq!(be.ignore_persist.len(), 2);
    assert_eq!(be.ignore_persist[0].groups.len(), 2, "two OR groups");
    assert!(be.ignore_persist[1].unless);
    assert_eq!(be.force_persist[0].span.line, 9);
}

#[test]
fn force_persist_without_a_condition_is_an_alert() {
    for line in [
        "  force-persist\n",
        "  ignore-persist maint\n",
        "  force-persist if\n",
    ] {
        let l = load(line);
        assert!(!l.is_valid(), "{line}");
        assert!(
            l.diagnostics
                .items
                .iter()
                .any(|d| d.is_error() && d.span.as_ref().is_some_and(|s| s.line == 7)),
            "{line}: {:?}",
            l.diagnostics
        );
    }
}

#[test]
fn every_stick_table_fetch_name_parses_with_its_arguments() {
    for ok in [
        "sc_http_req_rate(0)",
        "sc_http_req_rate(2,other)",
        "sc0_conn_cur",
        "sc2_get_gpc0(t)",
        "src_conn_rate",
        "src_updt_conn_cnt(t)",
        "sc_get_gpc(1,0)",
        "sc_gpc_rate(1,2,t)",
        "sc1_get_gpt(0)",
        "src_get_gpc(3,t)",
        "sc_tracked(1)",
        "sc0_trackers",
        "table_cnt",
        "table_avl(t)",
        "src,table_http_req_rate(t)",
        "src,in_table(t)",
        "str(a),table_gpc(1,t)",
    ] {
        assert!(parse_sample_expr(ok, &sp()).is_ok(), "{ok}");
    }
    for bad in [
        "sc_http_req_rate",
        "sc0_conn_cur(a,b)",
        "sc_get_gpc(1)",
        "src_tracked",
        "sc3_conn_cur",
        "table_cnt(a,b)",
        "src,table_http_req_rate",
        "src,table_gpc(t)",
    ] {
        assert!(parse_sample_expr(bad, &sp()).is_err(), "{bad}");
    }
}

#[test]
fn stick_fetch_typos_get_a_suggestion() {
    let d = parse_sample_expr("sc_http_req_rat(0)", &sp()).unwrap_err();
    assert_eq!(d.hint.as_deref(), Some("did you mean 'sc_http_req_rate'?"));
    let d = parse_sample_expr("src,table_http_req_rat(t)", &sp()).unwrap_err();
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean 'table_http_req_rate'?")
    );
    let d = parse_acl(&w("a tabel_cnt gt 1"), &sp()).unwrap_err();
    assert_eq!(d.hint.as_deref(), Some("did you mean 'table_cnt'?"));
}

#[test]
fn acls_ending_with_a_table_converter_match_numbers() {
    let a = parse_acl(&w("abuse src,table_http_req_rate(t) gt 10"), &sp()).unwrap();
    assert_eq!((a.method, a.fetch_type), (MatchMethod::Int, SmpType::Int));
    let a = parse_acl(&w("known src,in_table(t)"), &sp()).unwrap();
    assert_eq!(a.fetch_type, SmpType::Bool);
    let a = parse_acl(&w("many sc_http_req_rate(0) gt 20"), &sp()).unwrap();
    assert_eq!(a.method, MatchMethod::Int);
}

#[test]
fn tcp_gpc_actions_parse_where_haproxy_allows_them() {
    use fulcrum_config::rules::{parse_tcp_request, parse_tcp_response, TcpAction, TcpRuleKind};
    let r = parse_tcp_request(&w("connection sc-inc-gpc1(2) if { src 10.0.0.1 }"), &sp()).unwrap();
    assert!(matches!(
        r.kind,
        TcpRuleKind::Rule {
            action: TcpAction::ScIncGpc { counter: 2, gpc: 1 },
            ..
        }
    ));
    assert!(parse_tcp_request(&w("content sc-set-gpt0(0) 7"), &sp()).is_ok());
    assert!(parse_tcp_request(&w("session sc-set-gpt0(1) src_port,mul(2)"), &sp()).is_ok());
    assert!(parse_tcp_request(&w("connection sc-inc-gpc0(3)"), &sp()).is_err());
    assert!(parse_tcp_request(&w("connection sc-set-gpt0(0)"), &sp()).is_err());
    assert!(parse_tcp_response(&w("content sc-inc-gpc0(0)"), &sp()).is_err());
}
