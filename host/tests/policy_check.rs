//! `taylordash policy check` as an operator meets it: every problem of a
//! policy at its exact `file:line:col`, pipelines checked against the
//! policy's roles, the table of who may run which stage, and exit codes.
//!
//! The plugins directory holds empty `<tool>.wasm` files named after the
//! seed's tools: `policy check` only lists names, so nothing needs building.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SEED_TOOLS: [&str; 20] = [
    "planner", "adr_writer", "fastapi_gen", "mqtt_client", "tsdb_adapter", "minio_client", "openapi_gen",
    "jsonschema_lint", "otel_instrument", "prom_rules", "grafana_panels", "pytest_asyncio", "bash_runner",
    "contract_compliance", "security_check", "observability_check", "mkdocs_writer", "adr_manager",
    "minio_uploader", "echo",
];

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for d in ["home", "plugins"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        for tool in SEED_TOOLS {
            std::fs::write(root.path().join("plugins").join(format!("{tool}.wasm")), b"").unwrap();
        }
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn taylordash(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_taylordash"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_STATE_HOME", self.path("home/state"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("TAYLORDASH_PLUGINS_DIR", self.path("plugins"))
            .output()
            .expect("running taylordash")
    }
}

fn seed_pipeline() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/orchestration_flow.yaml").display().to_string()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The table row of `principal`, split into its columns (two or more spaces apart).
fn row(out: &str, principal: &str) -> Vec<String> {
    let line = out
        .lines()
        .find(|l| l.split("  ").next() == Some(principal) || l.starts_with(&format!("{principal} ")))
        .unwrap_or_else(|| panic!("no row for {principal} in:\n{out}"));
    line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
}

const CLEAN: &str = "\
roles: [admin, maintainer, viewer]
principals: { alice: admin, ci-bot: maintainer, dash: viewer }
plugins:
  bash_runner:
    quotas: { memory: 64MiB, fuel: 2_000_000_000, timeout: 300s, output: 1MiB }
    grants:
      fs: { workspace: read, out: write }
      env: [LANG]
      exec: { programs: [python3], timeout: 280s }
    max_role_to_grant: maintainer
  planner:
    grants: { http: [\"api.example.com:443\"] }
";

/// Seven problems, one per line from line 2 on; the columns are those of
/// the offending value (of the principal's name for an unknown role).
const BROKEN: &str = "\
roles: [admin, maintainer, viewer]
principals: { alice: admin, bob: maintaner }
plugins:
  bash_runner:
    digest: \"sha256:1234\"
    quotas: { memory: 64XB, timeout: soon }
    grants:
      exec: { programs: [\"python3 -m pytest\"] }
      http: [example.com]
    max_role_to_grant: root
    grnts: {}
  bash_runer: {}
trusted_keys: [\"ed25519:abcd\"]
";

#[test]
fn a_policy_with_many_problems_reports_each_at_its_line_and_column() {
    let env = Env::new();
    let policy = env.write("policy.yaml", BROKEN);
    let out = env.taylordash(&["policy", "check", &policy]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with(&policy)).collect();
    let at = |rest: &str| format!("{policy}:{rest}");
    assert_eq!(
        problems,
        [
            at("2:29: principal `bob` has unknown role `maintaner` (did you mean \"maintainer\"?); roles are admin, maintainer, viewer"),
            at("5:13: plugins.bash_runner.digest: `sha256:1234` is not `sha256:<64 hex digits>` (`taylordash plugins list` prints them)"),
            at("6:23: plugins.bash_runner.quotas.memory: `64XB`: unknown size unit `xb` (use B, KiB, MiB, GiB)"),
            at("6:38: plugins.bash_runner.quotas.timeout: `soon` is not a duration (expected e.g. 250ms, 2s, 1m)"),
            at("8:26: plugins.bash_runner.grants.exec.programs[0]: `python3 -m pytest` is not a program: name the program alone; its arguments come from the call"),
            at("9:14: plugins.bash_runner.grants.http[0]: `example.com` is not `host:port` (e.g. api.example.com:443, [::1]:8080): the port is missing"),
            at("10:24: plugins.bash_runner.max_role_to_grant: unknown role `root`; roles are admin, maintainer, viewer"),
            at("11:5: plugins.bash_runner: unknown field `grnts` (did you mean \"grants\"?); fields are digest, quotas, grants, max_role_to_grant, roles"),
            at(&format!(
                "12:3: plugins.bash_runer: no bash_runer.wasm in {} (did you mean \"bash_runner\"?); this entry applies to nothing",
                env.path("plugins").display()
            )),
            at("13:16: trusted_keys[0]: `ed25519:abcd` is not an Ed25519 public key: a public key is 32 bytes"),
        ],
        "{err}"
    );
    assert!(err.ends_with("10 problem(s) found\n"), "{err}");
    assert!(!stdout(&out).contains("ok:"), "{}", stdout(&out));

    // The same file given to any other command is refused with every problem
    // (exit 2), not only the first.
    let fake = env.write("fake.wasm", "");
    let invoke = env.taylordash(&["--policy", &policy, "invoke", &fake, "--input", "{}"]);
    assert_eq!(code(&invoke), 2, "{}", stderr(&invoke));
    let err = stderr(&invoke);
    assert!(err.contains(&at("2:29: principal `bob` has unknown role `maintaner`")), "{err}");
    assert!(err.contains(&at("13:16: trusted_keys[0]: `ed25519:abcd` is not an Ed25519 public key")), "{err}");
    assert_eq!(err.lines().filter(|l| l.contains(&policy)).count(), 9, "all but the plugins-directory check: {err}");
}

#[test]
fn a_clean_policy_and_the_seed_pipeline_show_who_may_run_which_stage() {
    let env = Env::new();
    let policy = env.write("policy.yaml", CLEAN);
    let seed = seed_pipeline();
    let out = env.taylordash(&["policy", "check", &policy, &seed]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("ok: {policy} (3 principals, 2 plugins)\nok: {seed} (4 stages)\n")), "{text}");
    assert!(text.contains(&format!("{seed}: who may run which stage\n")), "{text}");
    assert_eq!(row(&text, "PRINCIPAL"), ["PRINCIPAL", "ROLE", "PIPELINE", "STAGES", "POWERFUL GRANTS"]);
    assert_eq!(
        row(&text, "alice"),
        ["alice", "admin", "may run", "planning, execution, validation, documentation", "bash_runner: exec [python3], env [LANG]"]
    );
    // planning is admin-only, so a maintainer is refused the run as a whole.
    assert_eq!(
        row(&text, "ci-bot"),
        ["ci-bot", "maintainer", "refused", "execution, validation, documentation", "bash_runner: exec [python3], env [LANG]"]
    );
    // A viewer runs no stage that needs admin or maintainer, and the stage
    // it may run uses no plugin with powerful grants.
    assert_eq!(row(&text, "dash"), ["dash", "viewer", "refused", "documentation", "-"]);
    assert_eq!(row(&text, "(anyone else)"), ["(anyone else)", "none", "refused", "-", "-"]);
    assert_eq!(stderr(&out), "");

    let json = env.taylordash(&["policy", "check", &policy, &seed, "--json"]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    let access = doc["pipelines"][0]["access"].as_array().unwrap();
    let dash = access.iter().find(|a| a["principal"] == "dash").unwrap();
    let stages: Vec<&str> = dash["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["documentation"]);
    assert_eq!(dash["may_run_pipeline"], false);
    let dash_grants = doc["principals"].as_array().unwrap().iter().find(|a| a["principal"] == "dash").unwrap();
    assert_eq!(
        dash_grants["grants"],
        serde_json::json!([{ "plugin": "bash_runner", "granted": false, "needs_role": "maintainer", "exec": ["python3"], "env": ["LANG"] }])
    );
}

#[test]
fn without_a_pipeline_the_powerful_grants_of_each_principal_are_shown() {
    let env = Env::new();
    let policy = env.write("policy.yaml", CLEAN);
    let out = env.taylordash(&["policy", "check", &policy]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(row(&text, "ci-bot"), ["ci-bot", "maintainer", "bash_runner: exec [python3], env [LANG]"]);
    assert_eq!(row(&text, "dash"), ["dash", "viewer", "bash_runner: withheld (needs maintainer)"]);
    // The positional file is checked, not the global `--policy` (a name clap could confuse).
    let both = env.taylordash(&["--policy", "/nonexistent/policy.yaml", "policy", "check", &policy]);
    assert_eq!((code(&both), stdout(&both)), (0, text));
}

#[test]
fn pipelines_are_checked_against_the_policys_roles_and_cannot_ask_for_grants() {
    let env = Env::new();
    let policy = env.write("policy.yaml", "roles: [owner, reader]\nprincipals: { ann: owner, rex: reader }\n");
    // A stage has no field that asks for capabilities: `grants` is unknown.
    let pipeline = env.write(
        "p.yaml",
        "orchestration_flow:\n  stages:\n    - stage: one\n      agent: a\n      tools: [echo]\n      rbac: [owner, admin]\n      grants: { exec: { programs: [sh] } }\n",
    );
    let out = env.taylordash(&["policy", "check", &policy, &pipeline, &seed_pipeline()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{pipeline}:6:21: unknown role `admin`; roles are owner, reader\n")), "{err}");
    assert!(err.contains(&format!("{pipeline}:7:7: unknown key `grants` in a stage")), "{err}");
    // The seed's rbac names the default roles, which this policy does not have.
    assert!(err.contains(&format!("{}:12:14: unknown role `admin`; roles are owner, reader", seed_pipeline())), "{err}");
    assert!(stdout(&out).starts_with(&format!("ok: {policy} (2 principals, 0 plugins)\n")), "{}", stdout(&out));
}

#[test]
fn an_unreadable_policy_is_a_problem_too() {
    let env = Env::new();
    let missing = env.path("nope.yaml").display().to_string();
    let out = env.taylordash(&["policy", "check", &missing]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).starts_with(&format!("{missing}:1:1: cannot read the policy: ")), "{}", stderr(&out));
    let anchors = env.write("anchors.yaml", "principals: &p { a: admin }\n");
    let out = env.taylordash(&["policy", "check", &anchors]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains(&format!("{anchors}:1:13: anchors (`&name`) are not supported in policy files")), "{}", stderr(&out));
}
