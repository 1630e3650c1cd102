//! `show stat` / `;csv` / `;json` as monitoring tools read them.

use fulcrum_observe::stats::csv::{csv_header, rows, write_csv, write_json, write_typed};
use fulcrum_observe::stats::{Field, FieldValue, StatFilter};

mod common;
use common::sample_proxies;

#[test]
fn header_has_haproxy_columns_in_order() {
    let h = csv_header();
    assert!(h.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,"));
    assert!(h.ends_with(",uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,\n"));
}

#[test]
fn csv_rows_frontend_servers_backend_with_type_specific_blanks() {
    let mut out = String::new();
    write_csv(&sample_proxies(), &StatFilter::default(), 1, &mut out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5);
    let ncols = lines[0].split(',').count();
    // Frontend: no queue columns, OPEN, pid 1, iid 2, sid 0, type 0.
    assert!(
        lines[1].starts_with(
            "www,FRONTEND,,,3,7,2000,100,5000,90000,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,"
        ),
        "{}",
        lines[1]
    );
    // The backend name needs quoting: it has a comma and quotes.
    assert!(
        lines[2].starts_with("\"app, \"\"main\"\"\",s1,0,0,0,0,,50,"),
        "{}",
        lines[2]
    );
    assert!(lines[3].contains(",MAINT,"));
    assert!(lines[4].contains(",BACKEND,") && lines[4].contains(",UP,"));
    for l in &lines[1..] {
        // Quoted comma excepted, every line has as many columns as the header.
        let cols = l.replace("\"app, \"\"main\"\"\"", "x").split(',').count();
        assert_eq!(cols, ncols, "{l}");
    }
}

#[test]
fn filter_by_proxy_type_and_sid() {
    let px = sample_proxies();
    let f = StatFilter {
        proxy: Some("3".into()),
        types: 4,
        sid: Some(2),
        ..StatFilter::default()
    };
    let r = rows(&px, &f, 1);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].get(Field::SvName), Some(&FieldValue::Str("s2".into())));
    let fe_only = StatFilter {
        types: 1,
        ..StatFilter::default()
    };
    assert_eq!(rows(&px, &fe_only, 1).len(), 1);
}

#[test]
fn typed_and_json_carry_positions_and_tags() {
    let px = sample_proxies();
    let mut t = String::new();
    write_typed(&px, &StatFilter::default(), 1, &mut t);
    assert!(t.starts_with("F.2.0.0.pxname.1:KNS:str:www\n"), "{t}");
    assert!(t.contains("S.3.1.36.check_status.1:SOP:str:L7OK\n"), "{t}");
    let mut j = String::new();
    write_json(&px, &StatFilter::default(), 1, &mut j);
    assert!(j.starts_with("[[{\"objType\":\"Frontend\",\"proxyId\":2,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},\"processNum\":1,\"tags\":{\"origin\":\"Key\",\"nature\":\"Name\",\"scope\":\"Service\"},\"value\":{\"type\":\"str\",\"value\":\"www\"}}"), "{j}");
    assert!(j.contains("\"value\":\"app, \\\"main\\\"\""));
    assert!(j.trim_end().ends_with("]]"));
}

#[test]
fn up_and_no_maint_hide_servers() {
    let px = sample_proxies();
    let names = |f: &StatFilter| -> Vec<String> {
        rows(&px, f, 1)
            .iter()
            .filter_map(|r| match r.get(Field::SvName) {
                Some(FieldValue::Str(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    };
    let all = names(&StatFilter::default());
    assert!(all.contains(&"s2".to_string()));
    for f in [
        StatFilter {
            up_only: true,
            ..StatFilter::default()
        },
        StatFilter {
            no_maint: true,
            ..StatFilter::default()
        },
    ] {
        let n = names(&f);
        assert!(
            n.contains(&"s1".to_string()) && !n.contains(&"s2".to_string()),
            "{n:?}"
        );
    }
}
