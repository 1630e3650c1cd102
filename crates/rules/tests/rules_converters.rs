//! Converters and fetches whose exact output HAProxy defines; expected values
//! were read from HAProxy 2.6.12's answers (`rules_vs_haproxy.rs` compares live).

mod common;

use common::*;
use fulcrum_rules::{run_http_request, Sample, Verdict};

fn run(cfg: &str, raw: &str) -> (Verdict, Fake) {
    let p = compile(cfg);
    let mut v = Fake::request(raw);
    let verdict = run_http_request(&p.http_request, &mut v);
    (verdict, v)
}

fn one(v: &Fake, name: &str) -> String {
    let h = v.hdr(name);
    assert_eq!(h.len(), 1, "{name}: {h:?}");
    h[0].clone()
}

#[test]
fn base32_hashes_host_and_path_like_haproxy() {
    let cfg = "http-request set-header X-B32 %[base32]";
    let (_, v) = run(cfg, "GET /a/b?c=d HTTP/1.1\nHost: Example.COM:8080\n");
    assert_eq!(one(&v, "X-B32"), "623808767");
    // Bytes past 0x7f count as C's signed char.
    let (_, v) = run(cfg, "GET /%C3%A9 HTTP/1.1\nHost: é\n");
    assert_eq!(one(&v, "X-B32"), "282450732");
    let (_, v) = run(cfg, "GET /xyz HTTP/1.1\nHost: [::1]\n");
    assert_eq!(one(&v, "X-B32"), "372013660");
}

#[test]
fn avalanche_is_haproxys_full_hash() {
    let cfg = "http-request set-header X-H %[str(abc),sdbm(1)]|%[str(abc),djb2(1)]|%[str(abc),wt6(1)]|%[str(abc),crc32(1)]|%[str(abc),sdbm]";
    let (_, v) = run(cfg, "GET / HTTP/1.1\n");
    assert_eq!(
        one(&v, "X-H"),
        "659243622|2235766107|266135527|930845320|807794786"
    );
}

#[test]
fn text_and_number_converters() {
    let cfg = r#"
http-request set-header X-Enc %[hdr(x-in),url_enc]
http-request set-header X-Enc2 %[hdr(x-in),url_enc(query)]
http-request set-header X-H2i %[hdr(x-hex),hex2i]
http-request set-header X-Bad %[str(1z),hex2i]
http-request set-header X-Host %[hdr(host),host_only]:%[hdr(host),port_only]
http-request set-header X-Cut %[url_param(v),url_dec,cut_crlf]
http-request set-header X-Be %[bin(01020304050607),be2dec(:,2)]|%[bin(01020304050607),be2dec(-,2,1)]|%[bin(7f000001),be2dec(.,1)]
http-request set-header X-Le %[bin(01020304050607),le2dec(:,2)]
http-request set-header X-Sha1 %[hdr(x-in),sha1,hex]
http-request set-header X-Sha2 %[str(ab),sha2(224),hex]
http-request set-header X-Sha256 %[str(abc),sha2,hex]
http-request deny if { hdr(host),port_only gt 8000 } { hdr(x-deny) -m found }
"#;
    let raw =
        "GET /?v=ab%0Dcd HTTP/1.1\nHost: Example.COM:8080\nX-In: a b/é&=?%+~*.-_!\nX-Hex: 0A0b\n";
    let (verdict, v) = run(cfg, raw);
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(one(&v, "X-Enc"), "a%20b%2F%C3%A9%26%3D%3F%25%2B~%2A.-_%21");
    assert_eq!(one(&v, "X-Enc2"), one(&v, "X-Enc"));
    assert_eq!(one(&v, "X-H2i"), "2571");
    assert_eq!(one(&v, "X-Bad"), "-");
    assert_eq!(one(&v, "X-Host"), "example.com:8080");
    assert_eq!(one(&v, "X-Cut"), "ab");
    assert_eq!(one(&v, "X-Be"), "258:772:1286:7|258-772-1286|127.0.0.1");
    assert_eq!(one(&v, "X-Le"), "513:1027:1541:7");
    assert_eq!(
        one(&v, "X-Sha1"),
        "2B97895AFE4F65BEEEDE3F51EC9AEB4E563A290E"
    );
    assert_eq!(
        one(&v, "X-Sha2"),
        "DB3CDA86D4429A1D39C148989566B38F7BDA0156296BD364BA2F878B"
    );
    assert_eq!(
        one(&v, "X-Sha256"),
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
    );
    // port_only is an integer for ACLs.
    let (verdict, _) = run(cfg, &format!("{raw}X-Deny: 1\n"));
    assert!(matches!(verdict, Verdict::Deny(_)), "{verdict:?}");
}

#[test]
fn bad_converter_arguments_fail_at_load() {
    for line in [
        "http-request set-header X %[str(a),sha2(100)]",
        "http-request set-header X %[str(a),be2dec(:,9)]",
        "http-request set-header X %[str(a),url_enc(path)]",
        "http-request set-header X %[str(a),set-var(nope)]",
        "http-request set-header X %[str(a),unset-var(txn.)]",
    ] {
        let err = compile_with(line, &fulcrum_rules::CompileEnv::new("."));
        assert!(err.is_err(), "{line}");
    }
}

#[test]
fn set_var_and_unset_var_converters_pass_the_sample_on() {
    let cfg = r#"
http-request set-var(txn.old) str(keep)
http-request set-header X-Len %[str(abc),set-var(txn.y),length]
http-request set-header X-Y %[var(txn.y)]
http-request set-header X-Cond %[str(new),set-var(txn.old,ifnotexists)]/%[var(txn.old)]
http-request set-header X-Gone %[str(z),unset-var(txn.old)]/%[var(txn.old)]
http-request set-var(txn.host) hdr(host),lower,set-var(txn.raw),upper
"#;
    let (_, v) = run(cfg, "GET / HTTP/1.1\nHost: MiXed\n");
    assert_eq!(one(&v, "X-Len"), "3");
    assert_eq!(one(&v, "X-Y"), "abc");
    assert_eq!(one(&v, "X-Cond"), "new/keep");
    assert_eq!(one(&v, "X-Gone"), "z/-");
    assert_eq!(
        v.vars.get("txn.raw"),
        Some(Sample::owned_str(b"mixed".to_vec()))
    );
    assert_eq!(
        v.vars.get("txn.host"),
        Some(Sample::owned_str(b"MIXED".to_vec()))
    );
    // In an ACL too: the variable is set while the condition is evaluated.
    let (verdict, v) = run(
        "http-request deny if { hdr(x-user),set-var(txn.user) -m str bob }",
        "GET / HTTP/1.1\nX-User: ann\n",
    );
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(
        v.vars.get("txn.user"),
        Some(Sample::owned_str(b"ann".to_vec()))
    );
}
