//! The `taylordash` binary as an operator meets it: exit codes, stdout JSON,
//! files in the out dir, errors that name the problem, and a host that leaves
//! nothing behind outside the directories it was given.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{test_plugin, tool};

/// A sandboxed home: empty HOME, XDG dirs and TMPDIR, as on a fresh machine.
struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for d in ["home", "xdg-cache", "xdg-config", "xdg-data", "tmp", "work/ws", "work/out"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn taylordash(&self, args: &[&str]) -> Output {
        common::plugins_built();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("xdg-cache"))
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("XDG_DATA_HOME", self.path("xdg-data"))
            .env("TMPDIR", self.path("tmp"))
            .env("TAYLORDASH_PLUGINS_DIR", plugin_dir("plugins"))
            .env("SECRET_TOKEN", "must-not-leak");
        cmd.output().expect("running taylordash")
    }
}

fn plugin_dir(kind: &str) -> PathBuf {
    common::plugins_built().join("target").join(kind)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn adversary() -> String {
    test_plugin("adversary").display().to_string()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn invoke_by_path_prints_the_tools_json() {
    let env = Env::new();
    let echo = test_plugin("echo").display().to_string();
    let out = env.taylordash(&["invoke", &echo, "--input", r#"{"x":[1,2,3]}"#, "--workspace", &env.path("work/ws").display().to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"x\":[1,2,3]}\n");
}

#[test]
fn an_unknown_plugin_exits_2_naming_it() {
    let env = Env::new();
    let out = env.taylordash(&["invoke", "no_such_tool", "--input", "{}"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains(&format!("error: no plugin `no_such_tool` in {}", plugin_dir("plugins").display())), "{}", stderr(&out));
}

#[test]
fn input_that_is_not_json_exits_2_with_its_position() {
    let env = Env::new();
    let file = env.path("work/input.json");
    std::fs::write(&file, "{\n  \"backlog\": [1,\n}").unwrap();
    let arg = format!("@{}", file.display());
    let out = env.taylordash(&["invoke", &test_plugin("echo").display().to_string(), "--input", &arg]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains(&format!("error: {}:3:1: input is not JSON", file.display())), "{}", stderr(&out));
}

#[test]
fn quota_flags_apply_and_breaches_exit_4() {
    let env = Env::new();
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"alloc_2gib"}"#, "--memory", "16MiB"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("error: plugin `adversary`: quota exceeded: memory (limit 16777216)"), "{}", stderr(&out));
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"loop_forever"}"#, "--timeout", "300ms", "--fuel", "100000000000000"]);
    assert_eq!(code(&out), 4);
    assert!(stderr(&out).contains("quota exceeded: timeout (limit 300)"), "{}", stderr(&out));
    let out = env.taylordash(&["invoke", &adversary(), "--input", "{}", "--memory", "lots"]);
    assert_eq!(code(&out), 2, "a bad flag value is a usage error");
}

#[test]
fn denials_exit_3_and_traps_exit_5() {
    let env = Env::new();
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"exec_ungranted"}"#]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"alloc_2gib"}"#]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let audit = env.taylordash(&["audit", "--denied", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    let caps: Vec<&str> = events.iter().map(|e| e["capability"].as_str().unwrap()).collect();
    assert_eq!(caps, ["exec", "quota:memory"], "every denial and breach is audited");
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"panic"}"#]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("adversary panicked on purpose"));
}

#[test]
fn the_guest_cannot_see_the_hosts_environment() {
    let env = Env::new();
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"read_env"}"#]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"{"vars":[]}"#);
}

#[test]
fn guest_escape_sequences_never_reach_the_terminal() {
    let env = Env::new();
    let out = env.taylordash(&["invoke", &adversary(), "--input", r#"{"attack":"ansi"}"#]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    // Our own log formatting may colour its output; the guest's bytes may not.
    assert!(!err.contains("\x1b[2J") && !err.contains("\x1b]0;") && !err.contains('\x07'), "{err:?}");
    assert!(err.contains("\\u{1b}[2J\\u{1b}[31mred alert"), "{err}");
    assert!(!err.contains("\nINFO forged line"), "{err}");
}

#[test]
fn out_is_merged_and_nothing_is_written_beside_the_given_dirs() {
    let env = Env::new();
    let ws = env.path("work/ws");
    let out_dir = env.path("work/out");
    std::fs::write(ws.join("keep.txt"), "keep").unwrap();
    let out = env.taylordash(&[
        "invoke", &adversary(), "--input", r#"{"attack":"write_out"}"#,
        "--workspace", &ws.display().to_string(), "--out", &out_dir.display().to_string(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(out_dir.join("sub/result.txt")).unwrap(), "result");
    assert_eq!(entries(&env.path("work")), ["out", "ws"]);
    assert_eq!(entries(&ws), ["keep.txt"]);
    assert_eq!(entries(&out_dir), ["sub"]);
    assert_eq!(entries(&env.path("tmp")), Vec::<String>::new(), "staging dirs must be cleaned up");
    assert_eq!(entries(&env.path("home")), Vec::<String>::new());
    // The only thing the host keeps is its compiled-component cache.
    assert_eq!(entries(&env.path("xdg-cache")), ["taylordash"]);
}

#[test]
fn plugins_list_shows_name_version_size_and_sha256() {
    use sha2::Digest;
    let env = Env::new();
    let dir = plugin_dir("test-plugins");
    let out = env.taylordash(&["plugins", "list", "--dir", &dir.display().to_string(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let echo = rows.iter().find(|r| r["name"] == "echo").expect("echo listed");
    let bytes = std::fs::read(dir.join("echo.wasm")).unwrap();
    assert_eq!(echo["size"], bytes.len() as u64);
    assert_eq!(echo["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(echo["version"], "0.1.0");
    let text = env.taylordash(&["plugins", "list", "--dir", &dir.display().to_string()]);
    assert!(stdout(&text).starts_with("NAME"), "{}", stdout(&text));
}

#[test]
fn plugins_inspect_shows_schemas_imports_and_exports() {
    let env = Env::new();
    let out = env.taylordash(&["plugins", "inspect", &adversary(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["name"], "adversary");
    assert_eq!(doc["exports"], serde_json::json!(["describe", "invoke"]));
    let imports: Vec<&str> = doc["imports"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(imports.contains(&"taylordash:agent/host@0.1.0"), "{imports:?}");
    assert!(imports.contains(&"taylordash:agent/exec@0.1.0"), "{imports:?}");
    assert_eq!(doc["input_schema"]["required"], serde_json::json!(["attack"]));
}

#[test]
fn a_tool_named_by_name_is_found_in_the_plugins_dir() {
    let env = Env::new();
    let dir = plugin_dir("test-plugins").display().to_string();
    let out = env.taylordash(&["--plugins-dir", &dir, "invoke", "echo", "--input", "[true]"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[true]");
}

#[test]
fn the_planner_writes_its_plan_into_the_out_dir_and_prints_json() {
    let env = Env::new();
    let examples = common::plugins_built().join("pipelines/examples");
    let input = format!("@{}", examples.join("planner-input.json").display());
    let out_dir = env.path("work/out");
    let planner = tool("planner").display().to_string();
    let args = ["invoke", planner.as_str(), "--input", input.as_str(), "--workspace"];
    let (ws, out_arg) = (examples.display().to_string(), out_dir.display().to_string());
    let out = env.taylordash(&[&args[..], &[ws.as_str(), "--out", out_arg.as_str()]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is the tool's JSON");
    let tasks = doc["session_plan"]["tasks"].as_array().unwrap();
    assert!(!tasks.is_empty());
    assert_eq!(entries(&out_dir), ["acceptance_criteria.md", "session_plan.json", "session_plan.md"]);
    let plan = std::fs::read_to_string(out_dir.join("session_plan.md")).unwrap();
    assert!(plan.contains(tasks[0]["title"].as_str().unwrap()), "{plan}");

    let bad = env.taylordash(&["invoke", &planner, "--input", r#"{"backlog":{"items":[{"id":"x","title":5}]}}"#]);
    assert_eq!(code(&bad), 1);
    assert!(
        stderr(&bad).contains("error: plugin `planner` invalid input: backlog: items[0].title: invalid type: integer `5`, expected a string"),
        "{}",
        stderr(&bad)
    );
}

fn policy(env: &Env, text: &str) -> String {
    let path = env.path("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const GRANTING_POLICY: &str = r#"
principals: { tester: admin, dash: viewer }
plugins:
  adversary:
    grants:
      env: [TD_GRANTED]
      exec: { programs: [echo], timeout: 5s }
    max_role_to_grant: maintainer
"#;

#[test]
fn exec_runs_only_granted_programs_for_a_role_that_may_use_the_grant() {
    let env = Env::new();
    let policy = policy(&env, GRANTING_POLICY);
    let run = |who: &str, program: &str| {
        let input = format!(r#"{{"attack":"exec","program":"{program}","args":["hello"]}}"#);
        env.taylordash(&["--policy", &policy, "--as", who, "invoke", &adversary(), "--input", &input])
    };
    let ok = run("tester", "echo");
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!((doc["status"].as_i64(), doc["stdout"].as_str()), (Some(0), Some("hello\n")));
    let other = run("tester", "sh");
    assert_eq!(code(&other), 3);
    assert!(stderr(&other).contains("denied exec: run `sh`: not among the programs granted to plugin `adversary` (echo)"), "{}", stderr(&other));
    let viewer = run("dash", "echo");
    assert_eq!(code(&viewer), 3, "a viewer may not use a grant reserved for maintainers");
    assert!(stderr(&viewer).contains("has no exec grant"), "{}", stderr(&viewer));

    // Every grant used and every denial is in the audit trail.
    let audit = env.taylordash(&["audit", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| (e["principal"].as_str().unwrap().into(), e["capability"].as_str().unwrap().into(), e["decision"].as_str().unwrap().into()))
        .collect();
    let want = |p: &str, c: &str, d: &str| (p.to_string(), c.to_string(), d.to_string());
    assert_eq!(summary, [want("tester", "exec", "allow"), want("tester", "exec", "deny"), want("dash", "exec", "deny")]);
    let denied = env.taylordash(&["audit", "--denied", "--json"]);
    assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&denied.stdout).unwrap().len(), 2);
}

#[test]
fn only_granted_environment_variables_are_visible() {
    let env = Env::new();
    let policy = policy(&env, GRANTING_POLICY);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
    common::plugins_built();
    let out = cmd
        .args(["--policy", &policy, "--as", "tester", "invoke", &adversary(), "--input", r#"{"attack":"read_env"}"#])
        .env("XDG_CACHE_HOME", env.path("xdg-cache"))
        .env("TD_GRANTED", "visible")
        .env("SECRET_TOKEN", "must-not-leak")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"{"vars":["TD_GRANTED"]}"#);
}

#[test]
fn a_plugin_whose_digest_does_not_match_is_refused_before_compilation() {
    let env = Env::new();
    let zeros = "0".repeat(64);
    let policy = policy(&env, &format!("principals: {{ tester: admin }}\nplugins:\n  adversary:\n    digest: \"sha256:{zeros}\"\n"));
    let out = env.taylordash(&["--policy", &policy, "--as", "tester", "invoke", &adversary(), "--input", r#"{"attack":"read_env"}"#]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("plugin `adversary` refused before compilation: its sha256 is sha256:"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(&format!("the policy pins sha256:{zeros}")));
    let audit = env.taylordash(&["audit", "--denied", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0]["capability"].as_str(), events[0]["plugin"].as_str()), (Some("digest"), Some("adversary")));
    assert_eq!(entries(&env.path("xdg-cache/taylordash/components")), Vec::<String>::new(), "nothing was compiled");
}

#[test]
fn a_bad_policy_is_a_config_error_with_its_position() {
    let env = Env::new();
    let policy = policy(&env, "principals: { tester: superuser }\n");
    let out = env.taylordash(&["--policy", &policy, "invoke", &adversary(), "--input", "{}"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("policy.yaml:1:15: principal `tester` has unknown role `superuser`"), "{}", stderr(&out));
    let policy2 = policy_file(&env, "bad.yaml", "principals: { tester: admin }\nplugins:\n  x:\n    grnts: {}\n");
    let out = env.taylordash(&["--policy", &policy2, "invoke", &adversary(), "--input", "{}"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("bad.yaml:4:5: plugins.x: unknown field `grnts`"), "{}", stderr(&out));
}

fn policy_file(env: &Env, name: &str, text: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn with_trusted_keys_only_plugins_signed_by_them_load() {
    let env = Env::new();
    let dir = env.path("signed");
    std::fs::create_dir_all(&dir).unwrap();
    let plugin = dir.join("echo.wasm");
    std::fs::copy(test_plugin("echo"), &plugin).unwrap();
    let key = env.path("signing.key");
    let keygen = env.taylordash(&["plugins", "keygen", "--out", &key.display().to_string()]);
    assert_eq!(code(&keygen), 0, "{}", stderr(&keygen));
    let public = stdout(&keygen).trim().to_string();
    assert!(public.starts_with("ed25519:") && public.len() == 8 + 64, "{public}");
    let policy = policy(&env, &format!("principals: {{ tester: admin }}\ntrusted_keys: [\"{public}\"]\n"));
    let invoke = |p: &Path| env.taylordash(&["--policy", &policy, "--as", "tester", "invoke", &p.display().to_string(), "--input", "[1]"]);

    let unsigned = invoke(&plugin);
    assert_eq!(code(&unsigned), 3);
    assert!(stderr(&unsigned).contains("plugin `echo` is not signed"), "{}", stderr(&unsigned));

    let sign = env.taylordash(&["plugins", "sign", &plugin.display().to_string(), "--key", &key.display().to_string()]);
    assert_eq!(code(&sign), 0, "{}", stderr(&sign));
    let ok = invoke(&plugin);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    assert_eq!(stdout(&ok).trim(), "[1]");
    let verify = env.taylordash(&["--policy", &policy, "plugins", "verify", &plugin.display().to_string()]);
    assert_eq!(code(&verify), 0, "{}", stderr(&verify));

    // Tampered: one byte appended after signing.
    let mut bytes = std::fs::read(&plugin).unwrap();
    bytes.push(0);
    std::fs::write(&plugin, &bytes).unwrap();
    let tampered = invoke(&plugin);
    assert_eq!(code(&tampered), 3);
    assert!(stderr(&tampered).contains("the signature does not match its name and sha256"), "{}", stderr(&tampered));

    // Renamed: a validly signed plugin put in another tool's place.
    bytes.pop();
    std::fs::write(&plugin, &bytes).unwrap();
    let renamed = dir.join("planner.wasm");
    std::fs::copy(&plugin, &renamed).unwrap();
    std::fs::copy(dir.join("echo.wasm.sig"), dir.join("planner.wasm.sig")).unwrap();
    assert_eq!(code(&invoke(&renamed)), 3);

    // Signed by a key the policy does not trust.
    let other = env.path("other.key");
    env.taylordash(&["plugins", "keygen", "--out", &other.display().to_string()]);
    env.taylordash(&["plugins", "sign", &plugin.display().to_string(), "--key", &other.display().to_string()]);
    let untrusted = invoke(&plugin);
    assert_eq!(code(&untrusted), 3);
    assert!(stderr(&untrusted).contains("which is not among the policy's trusted_keys"), "{}", stderr(&untrusted));

    let audit = env.taylordash(&["audit", "--denied", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(events.iter().filter(|e| e["capability"] == "signature").count(), 4, "{events:?}");
}

/// A one-page HTTP server on loopback; counts the connections it accepted.
fn http_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    http_server_with(b"hello")
}

/// A loopback HTTP server answering every request with `body`; counts hits.
fn http_server_with(body: &'static [u8]) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    (port, hits)
}

#[test]
fn http_reaches_only_granted_hosts_and_never_internal_names() {
    let env = Env::new();
    let (granted, granted_hits) = http_server();
    let (other, other_hits) = http_server();
    static BIG: [u8; 4096] = [b'x'; 4096];
    let (big, _) = http_server_with(&BIG);
    let policy = policy(
        &env,
        &format!("principals: {{ tester: admin }}\nplugins:\n  adversary:\n    quotas: {{ http_body: 1KiB }}\n    grants:\n      http: [\"127.0.0.1:{granted}\", \"localhost:{granted}\", \"127.0.0.1:{big}\"]\n"),
    );
    let get = |url: String| {
        let input = serde_json::json!({ "attack": "http_get", "url": url }).to_string();
        env.taylordash(&["--policy", &policy, "--as", "tester", "invoke", &adversary(), "--input", &input])
    };
    let ok = get(format!("http://127.0.0.1:{granted}/page"));
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!((doc["status"].as_u64(), doc["body"].as_str()), (Some(200), Some("hello")));
    assert_eq!(granted_hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    let denied = get(format!("http://127.0.0.1:{other}/"));
    assert_eq!(code(&denied), 3, "{}", stderr(&denied));
    assert!(
        stderr(&denied).contains(&format!("denied http: GET http://127.0.0.1:{other}/: `127.0.0.1:{other}` is not granted to plugin `adversary`")),
        "{}",
        stderr(&denied)
    );
    assert_eq!(other_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection to an ungranted port");

    // A granted *name* that resolves to loopback is refused (SSRF).
    let ssrf = get(format!("http://localhost:{granted}/"));
    assert_eq!(code(&ssrf), 3, "{}", stderr(&ssrf));
    assert!(stderr(&ssrf).contains("resolves to internal address"), "{}", stderr(&ssrf));
    assert_eq!(granted_hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A granted host answering past the plugin's http_body quota is cut off.
    let flood = get(format!("http://127.0.0.1:{big}/big"));
    assert_eq!(code(&flood), 3, "{}", stderr(&flood));
    assert!(
        stderr(&flood).contains(&format!("denied http: GET http://127.0.0.1:{big}/big: the response body exceeds plugin `adversary`'s http_body quota (1024 bytes)")),
        "{}",
        stderr(&flood)
    );

    let audit = env.taylordash(&["audit", "--denied", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(events.iter().filter(|e| e["capability"] == "http").count(), 3);
}

/// A granted program runs under Landlock where the kernel has it: it reads
/// the system, writes its scratch copy, and reaches nothing else — not a
/// file beside the run, not a loopback TCP port. Without Landlock the host
/// must say the program runs unconfined.
#[test]
fn exec_is_confined_to_its_scratch_copy() {
    let env = Env::new();
    let secret = env.path("secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    let outside = env.path("escaped.txt");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = policy(&env, "principals: { tester: admin }\nplugins:\n  adversary:\n    grants:\n      exec: { programs: [sh], timeout: 20s }\n");
    let script = format!(
        "cat {s} || echo READ-DENIED; (echo pwned > {o}) || echo WRITE-DENIED; echo made > made.txt && echo WROTE-SCRATCH; \
         test -r /etc/passwd && echo READ-ETC; \
         /usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' 2>/dev/null && echo TCP-OPEN || echo TCP-DENIED",
        s = secret.display(),
        o = outside.display()
    );
    let input = serde_json::json!({ "attack": "exec", "program": "sh", "args": ["-c", script] }).to_string();
    let ws = env.path("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let ws = ws.display().to_string();
    // `-v`: that the program is confined is an info line (quiet by default).
    let out = env.taylordash(&["-v", "--policy", &policy, "--as", "tester", "invoke", &adversary(), "--input", &input, "--workspace", &ws]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let said = doc["stdout"].as_str().unwrap().to_string();
    assert!(said.contains("WROTE-SCRATCH") && said.contains("READ-ETC"), "the program works in its scratch copy: {said}");
    assert_eq!(std::fs::read_to_string(env.path("ws/made.txt")).unwrap(), "made\n", "its new file comes back through /out");
    if taylordash::sandbox::confine::kernel_abi().is_none() {
        assert!(stderr(&out).contains("runs unconfined"), "{}", stderr(&out));
        eprintln!("SKIP: exec_is_confined_to_its_scratch_copy: this kernel has no Landlock; the file and TCP walls were not checked");
        return;
    }
    assert!(stderr(&out).contains("confined by Landlock"), "{}", stderr(&out));
    assert!(said.contains("READ-DENIED") && !said.contains("host secret"), "a file outside the scratch copy is unreadable: {said}");
    assert!(said.contains("WRITE-DENIED") && !outside.exists(), "nothing is written outside the scratch copy: {said}");
    if std::path::Path::new("/usr/bin/python3").exists() {
        assert!(said.contains("TCP-DENIED"), "no TCP connections: {said}");
    } else {
        eprintln!("SKIP: exec_is_confined_to_its_scratch_copy: no /usr/bin/python3 to try a TCP connection with; the TCP wall was not checked");
    }
}

#[test]
fn contracts_are_written_per_agent_from_the_pipeline_and_each_tools_describe() {
    let env = Env::new();
    let flow = common::plugins_built().join("pipelines/orchestration_flow.yaml");
    let out = env.taylordash(&["contracts", flow.to_str().unwrap(), "--workspace", env.path("work/ws").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let written: Vec<String> = stdout(&out).lines().map(|l| Path::new(l).file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        written,
        ["project_manager.yaml", "backend_dev.yaml", "architecture_contracts.yaml", "observability.yaml", "qa_tests.yaml", "scribe_docs.yaml"]
    );
    let pm = std::fs::read_to_string(env.path("work/ws/contracts/project_manager.yaml")).unwrap();
    let body: Vec<&str> = pm.lines().filter(|l| !l.starts_with('#') && !l.contains("description:")).collect();
    assert_eq!(
        body,
        [
            "name: \"project_manager\"",
            &format!("version: \"{}\"", env!("CARGO_PKG_VERSION")),
            "capabilities:",
            "    tool: \"planner\"",
            "    version: \"0.1.0\"",
            "    tool: \"adr_writer\"",
            "    version: \"0.1.0\"",
            "inputs:",
            "  - \"snapshot\"",
            "  - \"backlog\"",
            "  - \"failures\"",
            "outputs:",
            "  - \"session_plan\"",
            "  - \"acceptance_criteria\"",
            "sla:",
            "  response_time: \"60s\"",
            "  retries: 2",
            "dependencies: []",
        ]
    );
    assert!(pm.contains("  - description: \"Orders a backlog into a session plan"), "{pm}");
    // A pipeline with a problem writes nothing and exits 2, naming it.
    let bad = env.path("work/bad.yaml");
    std::fs::write(&bad, "combination: x\nagents: {a: {tools: [nope]}}\ncoordination: sequential_execution\n").unwrap();
    let out = env.taylordash(&["contracts", bad.to_str().unwrap(), "--workspace", env.path("work/out").to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("bad.yaml:2:22: tool `nope` is not a plugin"), "{}", stderr(&out));
    assert!(!env.path("work/out/contracts").exists());
}
