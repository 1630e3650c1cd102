//! Byte-for-byte comparison with a CSV page captured from HAProxy (2.5/2.6
//! series, OpenSSL build): same header, and the same lines for the same
//! counters, including which columns each row type leaves empty.

use fulcrum_observe::stats::csv::write_csv;
use fulcrum_observe::stats::{
    BackendStats, CheckStats, FrontendStats, ProxyMode, ProxyStats, ServerStats, ServerStatus,
    StatFilter, Traffic,
};

const HAPROXY: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,
example-stats,FRONTEND,,,1,6,50000,1836,179923,8029010,5,0,4,,,,,OPEN,,,,,,,,,1,1,0,,,,0,1,0,2,,,,0,1826,0,9,0,0,,1,2,1836,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,1,2,1836,1827,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
example-backend-default,198.51.100.196:443,0,0,0,1,,53,12278,59308,,0,,0,0,0,0,UP,1,1,0,0,0,60269,0,,1,4,1,,53,,2,0,,3,L6OK,,2,0,53,0,0,0,0,,,,53,0,0,,,,,1902,,,0,4,4153,4216,,,,Layer6 check passed,,2,3,4,,,,,,http,,,,,,,,0,53,0,,,0,,0,6,10003,10018,0,0,0,0,2,1,,,,-,3549,2528,0,,,,,,,,,,,,,,
example-backend-default,198.51.100.151:8080,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,0,1,,,60269,,,1,4,3,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,
example-backend-default,BACKEND,0,0,0,2,10000,107,27967,132194,0,0,,0,0,0,0,UP,2,2,1,,0,60269,0,,1,4,0,,107,,1,0,,6,,,,0,92,0,15,0,0,,,,107,0,0,4908,2851,0,26,1901,,,0,2,4581,4636,,,,,,,,,,,,,,http,,,,,,,,0,106,1,0,0,,,0,6,10007,10018,0,,,,,2,0,0,0,-,3549,2528,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
";

fn proxies() -> Vec<ProxyStats> {
    let fe = ProxyStats {
        name: "example-stats".into(),
        iid: 1,
        mode: ProxyMode::Http,
        frontend: Some(FrontendStats {
            slim: 50000,
            traffic: Traffic {
                scur: 1,
                smax: 6,
                stot: 1836,
                bin: 179923,
                bout: 8029010,
                dreq: 5,
                ereq: 4,
                rate: 1,
                rate_max: 2,
                hrsp: [0, 1826, 0, 9, 0, 0],
                req_rate: 1,
                req_rate_max: 2,
                req_tot: 1836,
                conn_rate: 1,
                conn_rate_max: 2,
                conn_tot: 1836,
                intercepted: 1827,
                ..Traffic::default()
            },
            ..FrontendStats::default()
        }),
        ..ProxyStats::default()
    };
    let checked = ServerStats {
        name: "198.51.100.196:443".into(),
        sid: 1,
        status: ServerStatus::Up,
        weight: 1,
        uweight: 1,
        lastchg: 60269,
        lbtot: 53,
        addr: "198.51.100.196:443".into(),
        check: Some(CheckStats {
            status: "L6OK".into(),
            duration_ms: Some(2),
            desc: "Layer6 check passed".into(),
            rise: 2,
            fall: 3,
            health: 4,
            ..CheckStats::default()
        }),
        need_conn_est: 2,
        traffic: Traffic {
            smax: 1,
            stot: 53,
            bin: 12278,
            bout: 59308,
            rate_max: 3,
            hrsp: [0, 53, 0, 0, 0, 0],
            req_tot: 53,
            lastsess: Some(1902),
            ctime: 4,
            rtime: 4153,
            ttime: 4216,
            ctime_max: 6,
            rtime_max: 10003,
            ttime_max: 10018,
            connect: 53,
            ssl_sess: 3549,
            ssl_reused_sess: 2528,
            ..Traffic::default()
        },
        ..ServerStats::default()
    };
    let unchecked = ServerStats {
        name: "198.51.100.151:8080".into(),
        sid: 3,
        status: ServerStatus::NoCheck,
        weight: 1,
        uweight: 1,
        backup: true,
        lastchg: 60269,
        addr: "198.51.100.151:8080".into(),
        ..ServerStats::default()
    };
    let be = ProxyStats {
        name: "example-backend-default".into(),
        iid: 4,
        mode: ProxyMode::Http,
        servers: vec![checked, unchecked],
        backend: Some(BackendStats {
            up: true,
            slim: 10000,
            weight: 2,
            uweight: 2,
            act: 2,
            bck: 1,
            lastchg: 60269,
            downtime: Some(0),
            lbtot: 107,
            algo: "roundrobin".into(),
            traffic: Traffic {
                smax: 2,
                stot: 107,
                bin: 27967,
                bout: 132194,
                rate_max: 6,
                hrsp: [0, 92, 0, 15, 0, 0],
                req_tot: 107,
                comp_in: 4908,
                comp_out: 2851,
                comp_rsp: 26,
                lastsess: Some(1901),
                ctime: 2,
                rtime: 4581,
                ttime: 4636,
                ctime_max: 6,
                rtime_max: 10007,
                ttime_max: 10018,
                connect: 106,
                reuse: 1,
                ssl_sess: 3549,
                ssl_reused_sess: 2528,
                ..Traffic::default()
            },
            ..BackendStats::default()
        }),
        ..ProxyStats::default()
    };
    vec![fe, be]
}

#[test]
fn csv_equals_haproxy_output_line_by_line() {
    let mut ours = String::new();
    write_csv(&proxies(), &StatFilter::default(), 1, &mut ours);
    let names: Vec<&str> = HAPROXY.lines().next().unwrap()[2..].split(',').collect();
    for (n, (want, got)) in HAPROXY.lines().zip(ours.lines()).enumerate() {
        if want != got {
            // Name the first differing column to make failures readable.
            let (w, g): (Vec<&str>, Vec<&str>) =
                (want.split(',').collect(), got.split(',').collect());
            let col = w
                .iter()
                .zip(&g)
                .position(|(a, b)| a != b)
                .unwrap_or(w.len().min(g.len()));
            panic!(
                "line {n} differs at column {col} ({}): want {:?}, got {:?}\nwant {want}\ngot  {got}",
                names.get(col).unwrap_or(&"?"),
                w.get(col),
                g.get(col)
            );
        }
    }
    assert_eq!(ours.lines().count(), HAPROXY.lines().count());
}

#[test]
fn legends_add_addresses_and_algorithm() {
    let mut out = String::new();
    let f = StatFilter {
        show_legends: true,
        ..StatFilter::default()
    };
    write_csv(&proxies(), &f, 1, &mut out);
    assert!(out.contains(",198.51.100.196:443,,http,,"));
    assert!(out.contains(",http,roundrobin,"));
}
