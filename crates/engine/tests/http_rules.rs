mod common;

use common::http::{ok, origin};
use common::*;

fn serve(text: &str) -> Running {
    start_cfg(text, "web")
}

fn get(run: &Running, req: &str) -> (String, Vec<u8>) {
    let mut c = client(run.addr);
    write(&mut c, req.as_bytes());
    read_response(&mut c)
}

#[test]
fn use_backend_deny_redirect_and_set_header() {
    let api = origin(|r| {
        ok(&format!(
            "api {} {}",
            r.path,
            r.header("x-env").unwrap_or_default()
        ))
    });
    let www = origin(|r| ok(&format!("www {}", r.path)));
    let run = serve(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n\
         \x20   acl is_api path_beg /api\n\
         \x20   acl is_admin path_beg /admin\n\
         \x20   http-request deny if is_admin\n\
         \x20   http-request redirect location https://example.com/new if {{ path /old }}\n\
         \x20   http-request set-header X-Env prod\n\
         \x20   use_backend api if is_api\n\
         \x20   default_backend www\n\
         backend api\n    server a {}\n\
         backend www\n    server w {}\n",
        api.addr, www.addr
    ));
    let (h, b) = get(&run, "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"api /api/x prod"[..]));
    let (h, b) = get(&run, "GET /home HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"www /home"[..]));
    let (h, _) = get(&run, "GET /admin HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 403);
    let (h, _) = get(&run, "GET /old HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 302);
    assert!(h.contains("https://example.com/new"), "{h}");
    assert!(api
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|r| !r.path.starts_with("/admin")));
    assert!(www
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|r| !r.path.starts_with("/admin")));
}

#[test]
fn http_response_rules_edit_and_deny_responses() {
    let o = origin(|r| {
        if r.path == "/boom" {
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\nServer: secret/1.0\r\nContent-Length: 2\r\n\r\nok".to_vec()
        }
    });
    let run = serve(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         \x20   http-response set-header X-Path %[path]\n\
         backend app\n    server a {}\n\
         \x20   http-response del-header Server\n\
         \x20   http-response deny if {{ status 500 }}\n",
        o.addr
    ));
    let (h, b) = get(&run, "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"ok"[..]));
    assert!(!h.contains("secret"), "{h}");
    assert!(h.contains("X-Path: /hello"), "{h}");
    let (h, _) = get(&run, "GET /boom HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 502);
}

#[test]
fn http_buffer_request_lets_rules_see_the_body() {
    let o = origin(|_| ok("stored"));
    let run = serve(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout http-request 300ms\n\
         frontend web\n    bind 127.0.0.1:0\n    option http-buffer-request\n\
         \x20   http-request deny if {{ req.body -m sub secret }}\n\
         \x20   default_backend app\n\
         backend app\n    server a {}\n",
        o.addr
    ));
    // The body arrives in a second packet; the rule still sees it.
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n",
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
    write(&mut c, b"top secret");
    assert_eq!(status(&read_response(&mut c).0), 403);
    let (h, b) = get(
        &run,
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!((status(&h), b.as_slice()), (200, &b"stored"[..]));
    // An incomplete body past timeout http-request is a 408.
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab",
    );
    assert_eq!(status(&read_response(&mut c).0), 408);
    assert!(o
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|r| !String::from_utf8_lossy(&r.body).contains("secret")));
}

#[test]
fn http_buffer_request_answers_100_continue_itself() {
    let o = origin(|r| ok(&String::from_utf8_lossy(&r.body)));
    let run = serve(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    option http-buffer-request\n    default_backend app\n\
         backend app\n    server a {}\n",
        o.addr
    ));
    let mut c = client(run.addr);
    write(
        &mut c,
        b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    let (h, _) = read_response(&mut c);
    assert!(h.starts_with("HTTP/1.1 100 Continue"), "{h}");
    write(&mut c, b"data");
    // The origin may send its own 100 too; skip interim responses.
    let mut final_head;
    loop {
        let (h, b) = read_response(&mut c);
        final_head = (h, b);
        if status(&final_head.0) != 100 {
            break;
        }
    }
    assert_eq!(status(&final_head.0), 200);
    assert_eq!(final_head.1, b"data");
}
