use super::*;
use serde_json::{Value, json};
use taylordash_sdk::testing::Harness;

const BASE: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const HEAD: &str = "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";

/// A changed file: path, status, added `(line, text)`s.
type Change<'a> = (&'a str, &'a str, &'a [(usize, &'a str)]);

/// `review/diff.json` for `files`.
fn diff(files: &[Change<'_>]) -> String {
    let files: Vec<Value> = files
        .iter()
        .map(|(path, status, added)| {
            let added: Vec<Value> = added.iter().map(|(line, text)| json!({ "line": line, "text": text })).collect();
            json!({ "path": path, "status": status, "old_path": null, "added": added })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "base": BASE, "head": HEAD, "files": files })).unwrap()
}

/// `text` as `(line, text)` pairs, as a diff of a new file lists them.
fn lines_of(text: &str) -> Vec<(usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect()
}

const MAIN_PY: &str = "\"\"\"The API.\"\"\"
import json
import requests
from fastapi import FastAPI

import httpx
import os.path
import helpers
from mypkg.sub import thing
from app.models import Item
from . import local
import yaml, requests
from paho.mqtt import client as mqtt
";

/// A Python service whose `app/main.py` gains lines 6–13.
fn python_change(h: &Harness) {
    h.write_workspace("context7.json", r#"{"endpoint": "http://127.0.0.1:8931/mcp"}"#);
    h.write_workspace("app/__init__.py", "");
    h.write_workspace("app/models.py", "from pydantic import BaseModel\n");
    h.write_workspace("app/main.py", MAIN_PY);
    h.write_workspace("app/routes.py", "from fastapi import APIRouter\nimport httpx\n");
    h.write_workspace("helpers.py", "");
    h.write_workspace("src/mypkg/__init__.py", "");
    // Imports in places nobody maintains do not make a library familiar.
    h.write_workspace(".venv/lib/yaml_user.py", "import yaml\n");
    h.write_workspace("venv/lib/site.py", "import paho\n");
    h.write_workspace("env/pyvenv.cfg", "home = /usr/bin\n");
    h.write_workspace("env/lib/x.py", "import paho\n");
    h.write_workspace("app/__pycache__/old.py", "import yaml\n");
    h.write_workspace("review/notes.py", "import yaml\n");
    h.write_workspace("web/app.js", "const yaml = require('yaml')\n");
    let main_added: Vec<(usize, &str)> = lines_of(MAIN_PY).into_iter().filter(|(n, _)| (6..=13).contains(n)).collect();
    let routes_added: Vec<(usize, &str)> = vec![(2, "import httpx")];
    h.write_workspace(
        "review/diff.json",
        diff(&[
            ("app/main.py", "modified", &main_added),
            ("app/gone.py", "deleted", &[]),
            ("app/routes.py", "added", &routes_added),
        ]),
    );
}

#[test]
fn unfamiliar_python_libraries_are_found_named_by_distribution_and_written() {
    let h = Harness::new();
    python_change(&h);
    let text = h.run_json::<ReviewScope>("{}").unwrap();
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        out,
        json!({ "files": ["app/main.py", "app/gone.py", "app/routes.py"], "libraries": ["httpx", "paho-mqtt", "pyyaml"] })
    );
    let scope: Value = serde_json::from_str(&h.out_file("review/scope.json")).unwrap();
    assert_eq!(
        scope,
        json!({
            "files": ["app/main.py", "app/gone.py", "app/routes.py"],
            "libraries": [
                { "name": "httpx", "import": "httpx",
                  "occurrences": [ { "file": "app/main.py", "line": 6 }, { "file": "app/routes.py", "line": 2 } ] },
                { "name": "paho-mqtt", "import": "paho", "occurrences": [ { "file": "app/main.py", "line": 13 } ] },
                { "name": "pyyaml", "import": "yaml", "occurrences": [ { "file": "app/main.py", "line": 12 } ] }
            ]
        })
    );
    assert!(h.out_file("review/scope.json").ends_with("}\n"));
    assert_eq!(
        h.logs(),
        [(Level::Info, "1a2b3c4..5d6e7f8: 3 changed file(s); 3 library(ies) new to the repository: httpx, paho-mqtt, pyyaml".to_string())]
    );
}

#[test]
fn without_context7_json_nothing_is_looked_up_but_the_scope_lists_them() {
    let h = Harness::new();
    python_change(&h);
    std::fs::remove_file(h.workspace().join("context7.json")).unwrap();
    let out = h.run::<ReviewScope>(json!({})).unwrap();
    assert_eq!(out.libraries, Vec::<String>::new());
    let scope: ScopeFile = serde_json::from_str(&h.out_file("review/scope.json")).unwrap();
    assert_eq!(scope.libraries.len(), 3);
    assert_eq!(h.logs()[0], (Level::Warn, "no context7.json in the workspace: httpx, paho-mqtt, pyyaml not looked up".to_string()));
}

#[test]
fn stdlib_local_and_already_used_imports_are_not_reported() {
    let h = Harness::new();
    python_change(&h);
    let out = h.run::<ReviewScope>(json!({})).unwrap();
    for familiar in [
        "json",      // stdlib, and on an unchanged line
        "os",        // stdlib (`os.path`)
        "requests",  // line 12 adds it, but line 3 already imported it
        "fastapi",   // imported by unchanged lines
        "helpers",   // helpers.py at the root
        "mypkg",     // src/mypkg/
        "app",       // app/
        "local",     // relative
        "pydantic",  // only on an unchanged line
    ] {
        assert!(!out.libraries.contains(&familiar.to_string()), "{familiar}: {:?}", out.libraries);
    }
    // A library the change adds in two files is new in both.
    assert!(out.libraries.contains(&"httpx".to_string()));
}

#[test]
fn javascript_and_typescript_imports_count_by_package() {
    let h = Harness::new();
    let app_ts = "import React from 'react';\nimport axios from 'axios';\nimport { z } from '@scope/pkg/sub';\nimport x from './x';\nimport fs from 'node:fs';\nconst p = require('path');\nimport {\n  a,\n} from 'lodash';\n";
    h.write_workspace("web/app.ts", app_ts);
    h.write_workspace("context7.json", "{}");
    h.write_workspace("web/old.tsx", "import React, { useState } from 'react';\n");
    h.write_workspace("web/node_modules/axios/index.js", "import axios from 'axios';\n");
    h.write_workspace("lodash/index.js", "");
    h.write_workspace("scripts/tool.py", "import axios\n");
    let added = lines_of(app_ts);
    h.write_workspace("review/diff.json", diff(&[("web/app.ts", "added", &added)]));
    let out = h.run::<ReviewScope>(json!({})).unwrap();
    // react: used by web/old.tsx; lodash: a local directory; a Python
    // `import axios` is another language.
    assert_eq!(out.libraries, ["@scope/pkg", "axios"]);
    let scope: ScopeFile = serde_json::from_str(&h.out_file("review/scope.json")).unwrap();
    assert_eq!(scope.libraries[0].occurrences, [Occurrence { file: "web/app.ts".into(), line: 3 }]);
    assert_eq!(scope.libraries[1].import, "axios");
}

#[test]
fn without_unfamiliar_libraries_the_list_is_empty() {
    let h = Harness::new();
    h.write_workspace("app/main.py", "import os\nimport fastapi\n");
    h.write_workspace("app/api.py", "import fastapi\n");
    h.write_workspace("README.md", "import httpx\n");
    h.write_workspace(
        "review/diff.json",
        diff(&[("app/main.py", "modified", &[(1, "import os"), (2, "import fastapi")]), ("README.md", "modified", &[(1, "import httpx")])]),
    );
    let text = h.run_json::<ReviewScope>("{}").unwrap();
    assert_eq!(text, r#"{"files":["app/main.py","README.md"],"libraries":[]}"#);
    let scope: Value = serde_json::from_str(&h.out_file("review/scope.json")).unwrap();
    assert_eq!(scope, json!({ "files": ["app/main.py", "README.md"], "libraries": [] }));
    assert_eq!(h.logs()[0].1, "1a2b3c4..5d6e7f8: 2 changed file(s); no library new to the repository");
}

#[test]
fn deleted_files_add_nothing() {
    let h = Harness::new();
    h.write_workspace("review/diff.json", diff(&[("app/gone.py", "deleted", &[(1, "import httpx")])]));
    let out = h.run::<ReviewScope>(json!({})).unwrap();
    assert_eq!((out.files, out.libraries), (vec!["app/gone.py".to_string()], vec![]));
}

#[test]
fn a_missing_or_malformed_diff_is_invalid_input_naming_taylordash_review() {
    let h = Harness::new();
    let err = h.run::<ReviewScope>(json!({})).unwrap_err();
    assert_eq!(
        err,
        ToolError::InvalidInput(
            "review/diff.json: no such file in the workspace: the review tools run in the review pipeline, \
             `taylordash review --base REV --head REV`, which exports the head tree and writes it"
                .into()
        )
    );
    h.write_workspace("review/diff.json", r#"{"base": "a", "head": "b", "files": [{"path": "x.py", "status": "moved"}]}"#);
    let err = h.run::<ReviewScope>(json!({})).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("review/diff.json:1:")
            && m.contains("files[0].status: unknown variant `moved`")
            && m.ends_with("(`taylordash review --base REV --head REV` writes this file)")),
        "{err:?}"
    );
    assert!(!h.out().join("review").exists(), "nothing written on failure");
}

#[test]
fn unknown_input_keys_are_refused() {
    let h = Harness::new();
    let err = h.run::<ReviewScope>(json!({ "diff": "review/diff.json" })).unwrap_err();
    assert!(matches!(&err, ToolError::InvalidInput(m) if m.contains("unknown field `diff`")), "{err:?}");
}

#[test]
fn the_walk_skips_what_nobody_maintains() {
    let h = Harness::new();
    for f in ["a.py", "b/c.ts", ".git/x.py", "node_modules/x.js", "b/__pycache__/y.py", "review/z.py", "venv/v.py", "e/pyvenv.cfg", "e/w.py", "b/README.md"] {
        h.write_workspace(f, "");
    }
    assert_eq!(source_files(h.workspace()), ["a.py", "b/c.ts"]);
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        python_change(&h);
        (h.run_json::<ReviewScope>("{}").unwrap(), h.out_file("review/scope.json"))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<ReviewScope>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
