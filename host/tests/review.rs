//! The seed's `context7_code_review` (`pipelines/context7_code_review.yaml`)
//! run by `taylordash review` on a small git repository the test makes: a
//! base commit (a tiny web app, its contract, a test) and a head commit that
//! brings in a library the repository never used (inside a function no test
//! runs), a route the contract lacks, a hard-coded token and a tested route.
//!
//! The Context7 stand-in (`tests/mcp/context7_server.py`) answers the
//! library lookup; the tests run under coverage.py through `bash_runner`; the
//! contract and security gates report. The review's markdown names each
//! finding at its `file:line`, requests changes for the token, and approves
//! a change that touches nothing reviewable. Without the MCP venv (pytest,
//! pytest-cov, mcp) the tests print `SKIP: …` and pass.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::mcp_venv::{McpServer, python};

const WEB_PY: &str = "\"\"\"A tiny router: decorators that register nothing (no web framework to install).\"\"\"


class App:
    def get(self, path):
        return lambda f: f

    def post(self, path):
        return lambda f: f
";

const MAIN_BASE: &str = "from app.web import App

app = App()


@app.get(\"/items\")
def list_items():
    return []
";

const MAIN_HEAD: &str = "from app.web import App

app = App()
API_TOKEN = \"ghp_0123456789abcdefghijABCDEFGHIJ012345\"


@app.get(\"/items\")
def list_items():
    return []


@app.post(\"/items/{item_id}/archive\")
def archive(item_id):
    return {\"archived\": item_id}


def notify(item_id):
    import paho.mqtt.publish as publish
    publish.single(\"items/archived\", str(item_id))
";

const TEST_BASE: &str = "from app.main import list_items


def test_list_items():
    assert list_items() == []
";

const TEST_HEAD: &str = "from app.main import archive, list_items


def test_list_items():
    assert list_items() == []


def test_archive():
    assert archive(3) == {\"archived\": 3}
";

const OPENAPI: &str = "openapi: 3.1.0
info: { title: items, version: 1.0.0 }
servers: [{ url: \"https://api.example.com\" }]
paths:
  /items:
    get:
      operationId: listItems
      responses:
        \"200\": { description: the items }
";

struct Env {
    root: tempfile::TempDir,
    python: PathBuf,
}

impl Env {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path("repo"))
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("running git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path("repo").join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
        std::fs::write(path, text).expect("writing a repository file");
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// `tester` is admin; the context7 tools may reach the stand-in and
    /// bash_runner may run the venv's python.
    fn policy(&self, context7: &str) -> String {
        let text = format!(
            "principals: {{ tester: admin }}\nplugins:\n  context7_resolve_library: {{ grants: {{ http: [\"{context7}\"] }} }}\n  \
             context7_get_docs: {{ grants: {{ http: [\"{context7}\"] }} }}\n  bash_runner:\n    grants:\n      exec: {{ programs: [\"{}\"], timeout: 60s }}\n",
            self.python.display()
        );
        let path = self.path("policy.yaml");
        std::fs::write(&path, text).expect("writing the policy");
        path.display().to_string()
    }

    fn review(&self, policy: &str, args: &[&str]) -> Output {
        let tests = format!(
            "{} -B -m pytest -q -p no:cacheprovider --cov=. --cov-report=json:reports/coverage.json",
            self.python.display()
        );
        let out = common::taylordash_in(self.root.path())
            .args(["--policy", policy, "--as", "tester", "review", "--broker", "in-process", "--tests", &tests])
            .args(["--repo", &self.path("repo").display().to_string()])
            .args(args)
            .env("TAYLORDASH_PLUGINS_DIR", common::tool("review_scope").parent().expect("target/plugins"))
            .output()
            .expect("running taylordash review");
        eprintln!("taylordash review {args:?}: exit {:?}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        out
    }
}

/// The repository with its two commits: (env, base, head).
fn setup() -> Option<(Env, String, String)> {
    let python = python()?;
    common::plugins_built();
    let env = Env { root: tempfile::tempdir().expect("a temp dir"), python };
    std::fs::create_dir_all(env.path("repo")).expect("the repository");
    env.git(&["init", "-q", "-b", "main"]);
    env.write("app/__init__.py", "");
    env.write("app/web.py", WEB_PY);
    env.write("app/main.py", MAIN_BASE);
    env.write("tests/__init__.py", "");
    env.write("tests/test_main.py", TEST_BASE);
    env.write("openapi.yaml", OPENAPI);
    let base = env.commit("base");
    env.write("app/main.py", MAIN_HEAD);
    env.write("tests/test_main.py", TEST_HEAD);
    let head = env.commit("archive items, notify over MQTT");
    Some((env, base, head))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_change_is_reviewed_with_each_finding_at_its_file_and_line() {
    let Some((env, base, head)) = setup() else { return };
    let context7 = McpServer::start(&env.python, "context7_server.py");
    let policy = env.policy(&context7.host_port());
    let ws = env.path("ws").display().to_string();
    let out = env.review(&policy, &["--base", &base, "--head", &head, "--workspace", &ws, "--context7", &context7.endpoint()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let review = text(&out.stdout);
    let file = std::fs::read_to_string(env.path("ws/review/enhanced_review_comments.md")).expect("the comments file");
    assert!(review.ends_with(&file), "the comments are printed (after the run id) as written:\n{review}");
    // Each workflow step speaks at the line it is about: the security agent
    // (the token, redacted; the unauthenticated POST; MQTT without TLS), the
    // architecture agent (a route the contract lacks), context7 (the library
    // new to the repository, looked up), the qa agent (the lines no test ran:
    // `notify`'s body; `archive` is tested).
    let expected = format!(
        "# Review of {}..{}

**Changes requested**: 3 blocking comments (security) of 6 comments on 2 changed files.

## app/main.py

- `app/main.py:4` **security** (security_check) a GitHub token: `ghp_…45 (40 characters)`
- `app/main.py:12` **security** (security_check) POST route `archive` does not depend on authentication (e.g. `dependencies=[Depends(require_token)]`)
- `app/main.py:12` **architecture** `POST /items/{{item_id}}/archive` is not in the contract (openapi.yaml)
- `app/main.py:18` **library** `paho-mqtt` is new to this repository: Context7 `/eclipse/paho.mqtt.python`, docs in `docs/libraries/eclipse_paho.mqtt.python.md`
- `app/main.py:18` **security** (security_check) an MQTT client without TLS (no tls_set / SSL context)
- `app/main.py:18-19` **coverage** lines 18–19 changed and not run by any test

---
Checked: security_check, contract_compliance; coverage from reports/coverage.json; 2 gate findings outside the change not repeated.
",
        &base[..7],
        &head[..7]
    );
    assert_eq!(file, expected);
    // The library's docs were fetched into the workspace.
    assert!(env.path("ws/docs/libraries/eclipse_paho.mqtt.python.md").is_file());
    assert!(text(&out.stderr).contains("review: changes_requested; the comments are in"), "{}", text(&out.stderr));

    // --check turns the request for changes into exit 1.
    let ws2 = env.path("ws2").display().to_string();
    let checked = env.review(&policy, &["--base", &base, "--head", &head, "--workspace", &ws2, "--context7", &context7.endpoint(), "--check"]);
    assert_eq!(checked.status.code(), Some(1));
}

#[test]
fn a_change_with_nothing_to_say_is_approved_and_bad_revisions_are_refused() {
    let Some((env, _, head)) = setup() else { return };
    env.write("docs/notes.md", "# Notes\n\nNothing to review here.\n");
    let docs = env.commit("notes");
    let policy = env.policy("127.0.0.1:9");
    let ws = env.path("ws").display().to_string();
    let out = env.review(&policy, &["--base", &head, "--head", &docs, "--workspace", &ws, "--check"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let review = text(&out.stdout);
    assert!(
        review.lines().any(|l| l == "**Approved**: 0 blocking comments of 0 comments on 1 changed file."),
        "{review}"
    );

    // Refused before anything runs, exit 2, naming what is wrong.
    let bad = env.review(&policy, &["--base", "no-such-rev", "--head", &docs, "--workspace", &env.path("ws3").display().to_string()]);
    assert_eq!(bad.status.code(), Some(2));
    let repo = env.path("repo").display().to_string();
    assert_eq!(text(&bad.stderr).trim(), format!("error: --base `no-such-rev`: not a commit of the repository {repo}"));
    let used = env.review(&policy, &["--base", &head, "--head", &docs, "--workspace", &ws]);
    assert_eq!(used.status.code(), Some(2));
    assert_eq!(
        text(&used.stderr).trim(),
        format!("error: --workspace {ws}: not empty; the review exports the head revision into a fresh directory")
    );
}
