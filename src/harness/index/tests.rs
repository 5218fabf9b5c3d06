use super::*;
use std::io::Read;

const WHEEL: &[u8] = b"not really a zip, but the proxy only hashes it";
const METADATA: &[u8] = b"Metadata-Version: 2.1\nName: heavy\nVersion: 2.0\nRequires-Dist: light>=1\n";

struct Seeded {
    _dir: tempfile::TempDir,
    opts: IndexOptions,
    wheel_sha: String,
    heavy_sha: String,
}

/// A cache holding PyPI's page of `heavy` (two files) as if recorded.
fn seeded(wheels: WheelPolicy) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("index"));
    let wheel_sha = store.put_blob(WHEEL).unwrap();
    let meta_sha = store.put_blob(METADATA).unwrap();
    let heavy_sha = "e".repeat(64);
    let page = serde_json::json!({
        "meta": {"api-version": "1.1"}, "name": "heavy",
        "files": [
            {"filename": "heavy-1.0-py3-none-any.whl", "url": "https://files.example/heavy-1.0-py3-none-any.whl",
             "hashes": {"sha256": wheel_sha}, "size": WHEEL.len(), "upload-time": "2023-05-01T00:00:00Z", "core-metadata": false},
            {"filename": "heavy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "url": "https://files.example/heavy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
             "hashes": {"sha256": heavy_sha}, "size": 900_000_000u64, "upload-time": "2024-05-01T00:00:00Z",
             "requires-python": ">=3.9", "core-metadata": {"sha256": meta_sha}}
        ]
    });
    let body = store.put_blob(page.to_string().as_bytes()).unwrap();
    store.put_page(&PageRecord { url: format!("{PYPI}/heavy/"), fetched_at: 0, body: Some(body) }).unwrap();
    let opts = IndexOptions {
        upstreams: vec![PYPI.to_string()],
        offline: true,
        exclude_newer: None,
        wheels,
        cache_dir: dir.path().join("index"),
        max_page_age: DEFAULT_MAX_PAGE_AGE,
    };
    Seeded { _dir: dir, opts, wheel_sha, heavy_sha }
}

fn body(reply: Reply) -> (u16, String) {
    match reply {
        Reply::Bytes { status, body, .. } => (status, String::from_utf8_lossy(&body).into_owned()),
        Reply::File { path, .. } => (200, String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()),
    }
}

#[test]
fn serves_a_recorded_page_with_urls_through_the_proxy() {
    let s = seeded(WheelPolicy::Budget(DEFAULT_BUDGET));
    let proxy = Proxy::new(s.opts.clone());
    let (status, text) = body(proxy.handle("/c0/0/simple/Heavy/", true, "http://gw:1", None));
    assert_eq!(status, 200, "{text}");
    let page: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["files"][0]["url"], format!("http://gw:1/c0/0/files/{}/heavy-1.0-py3-none-any.whl", s.wheel_sha));
    assert_eq!(page["files"][1]["url"], format!("http://gw:1/c0/0/stand-in/{}/heavy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", s.heavy_sha));
    assert_eq!(page["files"][1]["requires-python"], ">=3.9");
    let (_, html) = body(proxy.handle("/c0/0/simple/heavy/", false, "http://gw:1", None));
    assert!(html.contains("data-requires-python=\"&gt;=3.9\""), "{html}");
}

#[test]
fn real_files_and_metadata_come_from_the_cache() {
    let s = seeded(WheelPolicy::Budget(DEFAULT_BUDGET));
    let proxy = Proxy::new(s.opts.clone());
    body(proxy.handle("/c0/0/simple/heavy/", true, "http://gw:1", None));
    let (status, text) = body(proxy.handle(&format!("/c0/0/files/{}/heavy-1.0-py3-none-any.whl", s.wheel_sha), false, "", None));
    assert_eq!((status, text.as_bytes()), (200, WHEEL));
    let heavy = "heavy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl";
    let (status, text) = body(proxy.handle(&format!("/c0/0/stand-in/{}/{heavy}.metadata", s.heavy_sha), false, "", None));
    assert_eq!((status, text.as_bytes()), (200, METADATA));
}

#[test]
fn a_heavy_wheel_becomes_a_stand_in_with_the_real_metadata_and_is_logged_per_cell() {
    let s = seeded(WheelPolicy::Budget(DEFAULT_BUDGET));
    let proxy = Proxy::new(s.opts.clone());
    body(proxy.handle("/c0/0/simple/heavy/", true, "http://gw:1", None));
    let heavy = "heavy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl";
    let Reply::Bytes { status: 200, body, .. } = proxy.handle(&format!("/c3/0/stand-in/{}/{heavy}", s.heavy_sha), false, "", None) else {
        panic!("no stand-in")
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();
    let mut metadata = String::new();
    archive.by_name("heavy-2.0.dist-info/METADATA").unwrap().read_to_string(&mut metadata).unwrap();
    assert_eq!(metadata.as_bytes(), METADATA);
    let log = proxy.log();
    assert_eq!(log.stand_ins["c3"].iter().next().unwrap(), &format!("heavy 2.0 ({heavy}, 858 MiB)"));
    assert!(log.failures.is_empty());
}

#[rstest::rstest]
#[case(WheelPolicy::Real, "files", "files")]
#[case(WheelPolicy::Metadata, "stand-in", "stand-in")]
#[case(WheelPolicy::Budget(1000), "files", "stand-in")]
fn the_wheel_policy_decides_what_is_real(#[case] policy: WheelPolicy, #[case] light: &str, #[case] heavy: &str) {
    let s = seeded(policy);
    let proxy = Proxy::new(s.opts.clone());
    let (_, text) = body(proxy.handle("/c0/0/simple/heavy/", true, "http://gw:1", None));
    let page: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(page["files"][0]["url"].as_str().unwrap().contains(&format!("/{light}/")));
    assert!(page["files"][1]["url"].as_str().unwrap().contains(&format!("/{heavy}/")));
}

#[test]
fn exclude_newer_hides_later_uploads() {
    let mut s = seeded(WheelPolicy::Budget(DEFAULT_BUDGET));
    s.opts.exclude_newer = Some("2024-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap().as_second());
    let proxy = Proxy::new(s.opts.clone());
    let (_, text) = body(proxy.handle("/c0/0/simple/heavy/", true, "http://gw:1", None));
    let page: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["files"].as_array().unwrap().len(), 1);
    assert_eq!(page["versions"], serde_json::json!(["1.0"]));
}

#[test]
fn an_offline_miss_is_a_failure_naming_the_url() {
    let s = seeded(WheelPolicy::Budget(DEFAULT_BUDGET));
    let proxy = Proxy::new(s.opts.clone());
    let (status, text) = body(proxy.handle("/c0/0/simple/numpy/", true, "http://gw:1", None));
    assert_eq!(status, 502);
    assert!(text.contains("https://pypi.org/simple/numpy/: not in the cache (--offline)"), "{text}");
    assert_eq!(proxy.log().failures.iter().collect::<Vec<_>>(), vec!["https://pypi.org/simple/numpy/: not in the cache (--offline)"]);
}

#[rstest::rstest]
#[case("/")]
#[case("/c0/7/simple/six/")]
#[case("/c0/0/simple/")]
#[case("/c0/0/files/abc/x.whl")]
#[case("/c0/0/elsewhere/a/b")]
fn odd_paths_are_not_found(#[case] path: &str) {
    let s = seeded(WheelPolicy::Real);
    let proxy = Proxy::new(s.opts.clone());
    let (status, _) = body(proxy.handle(path, true, "http://gw:1", None));
    assert_eq!(status, 404, "{path}");
    assert!(proxy.log().failures.is_empty());
}

#[test]
fn serves_over_http() {
    let s = seeded(WheelPolicy::Budget(DEFAULT_BUDGET));
    let proxy = IndexProxy::start("127.0.0.1".parse().unwrap(), 0, None, s.opts.clone()).unwrap();
    let url = format!("{}/heavy/", proxy.index_url("c1", 0));
    let mut response = ureq::get(&url).header("Accept", upstream::PEP_691_JSON).call().unwrap();
    assert_eq!(response.headers().get("Content-Type").unwrap(), upstream::PEP_691_JSON);
    let text = response.body_mut().read_to_string().unwrap();
    assert!(text.contains("\"name\":\"heavy\""), "{text}");
    drop(proxy);
}

const UA_310: &str = r#"pip/23.0.1 {"python":"3.11.2","user_data":"hpc-kernels-python=3.10.4"}"#;

#[test]
fn a_declared_interpreter_sees_its_own_index() {
    let s = seeded(WheelPolicy::Real);
    let proxy = Proxy::new(s.opts.clone());
    // heavy 2.0 is a cp311 wheel: a CPython 3.10 cannot install it, so it is not offered.
    let (_, text) = body(proxy.handle("/c0/0/simple/heavy/", true, "http://gw:1", Some(UA_310)));
    let page: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = page["files"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["heavy-1.0-py3-none-any.whl"]);
    // Without the declaration every file is offered.
    let (_, text) = body(proxy.handle("/c0/0/simple/heavy/", true, "http://gw:1", Some("pip/23.0.1 {\"python\":\"3.11.2\"}")));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["files"].as_array().unwrap().len(), 2);
}

/// A release with a wheel for CPython 3.10 only: a 3.10 client here gets it
/// retagged for the running 3.11, served as a stand-in with the real metadata.
#[test]
fn a_declared_only_wheel_is_offered_retagged_as_a_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("index"));
    let wheel = stand_in::build("old-1.0-cp310-cp310-manylinux1_x86_64.whl", b"Metadata-Version: 2.1\nName: old\nVersion: 1.0\n").unwrap();
    let wheel_sha = store.put_blob(&wheel.bytes).unwrap();
    let page = serde_json::json!({"name": "old", "files": [
        {"filename": "old-1.0-cp310-cp310-manylinux1_x86_64.whl", "url": "https://files.example/old-1.0-cp310-cp310-manylinux1_x86_64.whl",
         "hashes": {"sha256": wheel_sha}, "size": wheel.bytes.len(), "upload-time": "2023-05-01T00:00:00Z"}]});
    let page_blob = store.put_blob(page.to_string().as_bytes()).unwrap();
    store.put_page(&PageRecord { url: format!("{PYPI}/old/"), fetched_at: 0, body: Some(page_blob) }).unwrap();
    let opts = IndexOptions {
        upstreams: vec![PYPI.to_string()],
        offline: true,
        exclude_newer: None,
        wheels: WheelPolicy::Real,
        cache_dir: dir.path().join("index"),
        max_page_age: DEFAULT_MAX_PAGE_AGE,
    };
    let proxy = Proxy::new(opts);
    let (_, text) = body(proxy.handle("/c2/0/simple/old/", true, "http://gw:1", Some(UA_310)));
    let page: serde_json::Value = serde_json::from_str(&text).unwrap();
    let url = page["files"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("http://gw:1/c2/0/stand-in/{wheel_sha}/old-1.0-cp311-cp311-manylinux1_x86_64.whl"));
    // No core metadata upstream: the proxy reads it from the wheel itself.
    let Reply::Bytes { status: 200, body: served, .. } = proxy.handle(url.trim_start_matches("http://gw:1"), false, "", None) else {
        panic!("no stand-in")
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(served)).unwrap();
    let mut wheel_file = String::new();
    archive.by_name("old-1.0.dist-info/WHEEL").unwrap().read_to_string(&mut wheel_file).unwrap();
    assert!(wheel_file.contains("Tag: cp311-cp311-manylinux1_x86_64"), "{wheel_file}");
    let log = proxy.log();
    assert!(log.stand_ins["c2"].iter().next().unwrap().contains("offered as old-1.0-cp311-cp311-manylinux1_x86_64.whl"), "{log:?}");
    assert_eq!(log.presented_for["c2"], "3.10");
}
