//! `ltime` formats in the local time zone (`TZ`). Its own test binary: the C
//! library reads `TZ` once, so it is set before anything asks for local time.

mod common;

use common::*;
use fulcrum_rules::run_http_request;

#[test]
fn ltime_uses_the_local_time_zone_and_utime_stays_utc() {
    // A POSIX zone needs no time zone database: three hours east of UTC.
    std::env::set_var("TZ", "XYZ-3");
    let cfg = "http-request set-header X-L \"%[int(1700000000),ltime(%Y-%m-%d %H:%M:%S %z %Z)]\"\n\
               http-request set-header X-U \"%[int(1700000000),utime(%Y-%m-%d %H:%M:%S %z %Z)]\"\n\
               http-request set-header X-O %[int(1700000000),ltime(%H:%M,-3600)]";
    let p = compile(cfg);
    let mut v = Fake::request("GET / HTTP/1.1\n");
    run_http_request(&p.http_request, &mut v);
    assert_eq!(v.hdr("X-L"), ["2023-11-15 01:13:20 +0300 XYZ"]);
    assert_eq!(v.hdr("X-U"), ["2023-11-14 22:13:20 +0000 UTC"]);
    assert_eq!(v.hdr("X-O"), ["00:13"]);
}
