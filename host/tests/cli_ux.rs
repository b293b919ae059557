//! The command line as a new user meets it (issue 14 §5): a successful run
//! is quiet, a run that would fail for want of a grant stops before stage 1
//! with one message and a policy snippet, the caller has a name when
//! `$USER` and `$LOGNAME` are unset, and validation reports every problem
//! of a file once, without follow-on noise.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

/// A private home, runs dir and audit log; the environment cleared but for
/// `PATH` (and what each test sets), as under CI or a service manager.
struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        common::plugins_built();
        let root = tempfile::tempdir().expect("a temp dir");
        for dir in ["home", "ws"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("creating a dir");
        }
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> String {
        std::fs::write(self.path(rel), text).expect("writing a test file");
        self.path(rel).display().to_string()
    }

    /// `taylordash` with `plugins_dir` as its plugins directory.
    fn cmd(&self, plugins_dir: PathBuf, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("XDG_STATE_HOME", self.path("home/state"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", plugins_dir);
        cmd
    }

    fn output(&self, cmd: &mut Command) -> Output {
        cmd.output().expect("running taylordash")
    }
}

fn test_plugins() -> PathBuf {
    common::test_plugin("probe").parent().expect("the test plugins dir").to_path_buf()
}

fn plugins() -> PathBuf {
    common::tool("planner").parent().expect("the plugins dir").to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const TWO_STAGES: &str = r#"orchestration_flow:
  stages:
    - stage: "first"
      agent: "one"
      tools: ["probe"]
      rbac: ["admin"]
    - stage: "second"
      agent: "two"
      tools: ["probe"]
      rbac: ["admin"]
"#;

/// Every digit run becomes `#`: progress lines carry times and ids.
fn shape(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_successful_run_prints_progress_and_a_summary_and_nothing_else() {
    let env = Env::new();
    let probe = json!({ "agents": { "one": { "files": { "one.txt": "1" } }, "two": { "files": { "two.txt": "2" } } } });
    env.write("ws/probe.json", &probe.to_string());
    let pipeline = env.write("p.yaml", TWO_STAGES);
    let ws = env.path("ws").display().to_string();
    // The embedded broker and its local workers: the default bus.
    let out = env.output(env.cmd(test_plugins(), &["run", &pipeline, "--workspace", &ws]).env("USER", "tester"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run_id = stdout.trim().to_string();
    assert!(run_id.starts_with("run-") && stdout == format!("{run_id}\n"), "stdout is the run id alone: {stdout:?}");
    for noise in ["INFO", "WARN", "ERROR", "\x1b["] {
        assert!(!stdout.contains(noise) && !stderr.contains(noise), "`{noise:?}` in the output:\n{stdout}{stderr}");
    }
    // Ids and the temp dir's name have digits too: named before shaping.
    let lines: Vec<String> = stderr.lines().map(|l| shape(&l.replace(&run_id, "RUN").replace(&pipeline, "P.YAML"))).collect();
    assert_eq!(lines.len(), 9, "{stderr}");
    assert_eq!(lines[0], format!("run RUN: P.YAML (# stages), trace {}", lines[0].rsplit(' ').next().unwrap_or_default()));
    assert_eq!(lines[1], "[first] attempt #");
    assert_eq!(lines[2], "  one/probe: ok in # ms, # file(s)");
    assert!(lines[3].starts_with("[first] done in #"), "{}", lines[3]);
    assert_eq!(lines[4], "[second] attempt #");
    assert_eq!(lines[5], "  two/probe: ok in # ms, # file(s)");
    assert!(lines[6].starts_with("[second] done in #"), "{}", lines[6]);
    assert_eq!(lines[7], "run RUN: completed");
    assert_eq!(lines[8], "summary: run RUN completed in #.# s: # of # stages done, # tasks, # failed attempts");
}

#[test]
fn no_colour_when_no_color_is_set_even_with_verbose_logs() {
    let env = Env::new();
    let out = env.output(env.cmd(test_plugins(), &["-v", "plugins", "list"]).env("NO_COLOR", "1"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("\x1b["), "{}", text(&out.stderr));
}

#[test]
fn the_log_filter_is_warn_by_default_and_the_broker_stays_silent() {
    assert_eq!(taylordash::cli::log_filter(None, 0), "warn,rumqttd=off,rumqttc=error");
    assert_eq!(taylordash::cli::log_filter(None, 1), "info,rumqttd=off,rumqttc=error");
    assert_eq!(taylordash::cli::log_filter(Some("warn"), 0), "warn,rumqttd=off,rumqttc=error");
    assert_eq!(taylordash::cli::log_filter(Some("debug,rumqttd=info"), 0), "debug,rumqttd=info,rumqttc=error");
}

const ORCHESTRATION_FLOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/orchestration_flow.yaml");

#[test]
fn preflight_without_a_policy_names_the_missing_exec_grant_before_stage_1() {
    let env = Env::new();
    let ws = env.path("ws").display().to_string();
    let out = env.output(env.cmd(plugins(), &["run", ORCHESTRATION_FLOW, "--workspace", &ws]).env("USER", "tester"));
    assert_eq!(
        text(&out.stderr),
        "error: preflight: nothing has run: without --policy no tool is granted anything, and the pipeline's tools need:
  - bash_runner (stage `validation`): exec of `python3` (its default command `python3 -B -m pytest -q …`; bash_runner.json in the workspace may name others)
Put this in policy.yaml and run with --policy policy.yaml:
principals: { tester: admin }
plugins:
  bash_runner:
    grants:
      exec: { programs: [python3] }
"
    );
    assert_eq!(out.status.code(), Some(3), "a denial");
    assert_eq!(text(&out.stdout), "", "no run was started");
    assert!(!env.path("runs").exists(), "no run was journaled");
}

#[test]
fn preflight_names_every_grant_the_policy_lacks_at_once() {
    let env = Env::new();
    env.write("ws/bash_runner.json", r#"{"commands": ["ruff check .", ".venv/bin/python -m pytest -q"]}"#);
    env.write("ws/minio_uploader.json", r#"{"endpoint": "http://127.0.0.1:9000", "bucket": "b"}"#);
    let policy = env.write("policy.yaml", "principals: { tester: admin }\nplugins:\n  bash_runner:\n    grants: { exec: { programs: [ruff] } }\n");
    let ws = env.path("ws").display().to_string();
    let out = env.output(&mut env.cmd(plugins(), &["--policy", &policy, "--as", "tester", "run", ORCHESTRATION_FLOW, "--workspace", &ws]));
    assert_eq!(
        text(&out.stderr),
        "error: preflight: nothing has run: the policy does not grant what the pipeline's tools need:
  - bash_runner (stage `validation`): exec of `ruff`, `.venv/bin/python` (the commands of bash_runner.json)
  - minio_uploader (stage `documentation`): http to `127.0.0.1:9000` (the endpoint of minio_uploader.json)
Add to the policy file:
plugins:
  bash_runner:
    grants:
      exec: { programs: [ruff, .venv/bin/python] }
  minio_uploader:
    grants:
      http: [\"127.0.0.1:9000\"]
"
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!env.path("runs").exists(), "no run was journaled");
}

#[test]
fn without_user_and_logname_the_caller_is_the_real_uids_account() {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let Some(account) = taylordash::policy::identity::account_name(uid) else {
        eprintln!("SKIP: without_user_and_logname_the_caller_is_the_real_uids_account: uid {uid} has no entry in the password database");
        return;
    };
    let env = Env::new();
    env.write("ws/probe.json", &json!({ "agents": {} }).to_string());
    let pipeline = env.write("p.yaml", TWO_STAGES);
    let policy = env.write("policy.yaml", &format!("principals: {{ {}: admin }}\n", serde_json::to_string(&account).expect("a name")));
    let ws = env.path("ws").display().to_string();
    let mut cmd = env.cmd(test_plugins(), &["--policy", &policy, "run", &pipeline, "--workspace", &ws, "--quiet"]);
    cmd.env_remove("USER").env_remove("LOGNAME");
    let out = env.output(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = env.output(&mut env.cmd(test_plugins(), &["runs", "list", "--json"]));
    let rows: Vec<Value> = serde_json::from_slice(&list.stdout).expect("runs list --json");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0]["principal"].as_str(), rows[0]["role"].as_str()), (Some(account.as_str()), Some("admin")));
}

#[test]
fn validation_reports_a_misspelt_key_and_an_undefined_role_and_nothing_else() {
    let env = Env::new();
    let pipeline = env.write(
        "p.yaml",
        "orchestration_flow:\n  stages:\n    - stage: \"plan\"\n      agnet: \"pm\"\n      tools: [\"probe\"]\n      rbac: [\"admin\", \"ghost\"]\n",
    );
    let out = env.output(&mut env.cmd(test_plugins(), &["validate", &pipeline]));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{pipeline}:4:7: unknown key `agnet` in a stage (did you mean \"agent\"?)\n\
             {pipeline}:6:23: unknown role `ghost`; roles are admin, maintainer, viewer\n\
             2 problem(s) found\n"
        )
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn audit_prints_local_rfc3339_times_and_json_keeps_the_raw_milliseconds() {
    let env = Env::new();
    let event = json!({ "at": 1796232584131_i64, "principal": "tester", "plugin": "bash_runner", "capability": "exec",
                        "decision": "deny", "detail": "no grant" });
    env.write("audit.jsonl", &format!("{event}\n"));
    let out = env.output(env.cmd(test_plugins(), &["audit"]).env("TZ", "UTC"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "AT                        DECIDE PRINCIPAL    PLUGIN             CAPABILITY     DETAIL\n\
         2026-12-02T17:29:44+00:00 deny   tester       bash_runner        exec           no grant\n"
    );
    let out = env.output(env.cmd(test_plugins(), &["audit", "--json"]).env("TZ", "UTC"));
    let events: Vec<Value> = serde_json::from_slice(&out.stdout).expect("audit --json");
    assert_eq!(events[0]["at"], json!(1796232584131_i64));
}

#[test]
fn runs_show_lines_up_times_of_long_task_ids() {
    let env = Env::new();
    env.write("ws/probe.json", &json!({ "agents": {} }).to_string());
    let long = TWO_STAGES.replace("agent: \"two\"", "agent: \"a_very_long_agent_name_that_used_to_push_the_columns\"");
    let pipeline = env.write("p.yaml", &long);
    let ws = env.path("ws").display().to_string();
    let out = env.output(env.cmd(test_plugins(), &["run", &pipeline, "--workspace", &ws, "--quiet", "--broker", "in-process"]).env("USER", "tester"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run_id = text(&out.stdout).trim().to_string();
    let show = env.output(env.cmd(test_plugins(), &["runs", "show", &run_id]).env("TZ", "UTC"));
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let shown = text(&show.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], format!("run {run_id} — completed — {pipeline} (as tester / admin)"));
    assert_eq!(shape(lines[1]), "started #-#-#T#:#:#+#:#, last change #-#-#T#:#:#+#:#");
    assert_eq!(&lines[2..6], ["", "STAGE   STATUS  ATTEMPT", "first   done    1", "second  done    1"]);
    let long_id = "second/a_very_long_agent_name_that_used_to_push_the_columns/probe#1";
    let pad = " ".repeat(long_id.len() - "TASK".len());
    assert_eq!(lines[7], format!("TASK{pad}  STATUS  ATTEMPTS  STARTED                    ENDED                      TIME"));
    let first_pad = " ".repeat(long_id.len() - "first/one/probe#1".len());
    // The TIME column is `# ms`, or `#.# s` when compiling the plugin made the first call slow.
    let time_at = lines[7].find("TIME").expect("a TIME column");
    for (line, task) in [(lines[8], format!("first/one/probe#1{first_pad}")), (lines[9], long_id.to_string())] {
        let (columns, time) = line.split_at(time_at);
        assert_eq!(shape(columns), shape(&format!("{task}  done    1         2026-01-01T00:00:00+00:00  2026-01-01T00:00:00+00:00  ")));
        assert!(["# ms", "#.# s"].contains(&shape(time).as_str()), "{line}");
    }
    assert_eq!(lines.len(), 10, "{shown}");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    let env = Env::new();
    for (shell, marker) in [("bash", "complete -F _taylordash"), ("zsh", "#compdef taylordash"), ("fish", "complete -c taylordash")] {
        let out = env.output(&mut env.cmd(test_plugins(), &["completions", shell]));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(marker), "{shell}: {}", text(&out.stdout));
        assert!(text(&out.stdout).contains("resume"), "{shell}: the subcommands are completed");
    }
}

#[test]
fn every_subcommand_has_help_examples() {
    let env = Env::new();
    for sub in ["plugins", "invoke", "validate", "run", "resume", "worker", "broker", "dlq", "audit", "policy", "runs", "completions"] {
        let out = env.output(&mut env.cmd(test_plugins(), &[sub, "--help"]));
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Examples:\n  taylordash "), "{sub}: {}", text(&out.stdout));
    }
}

#[test]
fn resume_defaults_to_the_bus_the_run_used() {
    let env = Env::new();
    env.write("ws/probe.json", &json!({ "agents": { "two": { "fail": "failed" } } }).to_string());
    let pipeline = env.write("p.yaml", TWO_STAGES);
    let ws = env.path("ws").display().to_string();
    let out = env.output(env.cmd(test_plugins(), &["run", &pipeline, "--workspace", &ws, "--quiet", "--broker", "in-process"]).env("USER", "tester"));
    assert_eq!(out.status.code(), Some(1), "the second stage fails: {}", text(&out.stderr));
    let run_id = text(&out.stdout).trim().to_string();
    let journal = taylordash::store::Journal::open(&env.path("runs").join(&run_id).join("journal.sqlite")).expect("the journal");
    let started = journal.events().expect("events").into_iter().find(|e| e.kind == "run_started").expect("run_started");
    let data: Value = serde_json::from_str(&started.data).expect("json");
    assert_eq!(
        data["dispatch"],
        json!({ "brokers": ["in-process"], "workers": null, "max_workers": null, "prefix": "", "bus_key": null, "mqtt_username": null,
                "mqtt_ca_file": null, "insecure_unsigned_bus": false, "artifacts": null, "s3_endpoint": null, "s3_region": null })
    );
    // `--workers` with the recorded `in-process` broker is refused: the
    // recorded broker was used.
    let resumed = env.output(&mut env.cmd(test_plugins(), &["resume", &run_id, "--workers", "1"]));
    assert_eq!(text(&resumed.stderr), "error: --broker in-process takes no other broker and no --workers\n");
    assert_eq!(resumed.status.code(), Some(2));
}
