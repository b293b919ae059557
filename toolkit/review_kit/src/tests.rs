use crate::diff::{Diff, DiffError, Status};
use crate::imports::{Language, js_imports, js_package, python_imports};
use crate::python::{PYTHON_STDLIB, distribution, is_stdlib};
use crate::routes::{self, Route, decorator, ends_with_path, parse_route, route_at, router_prefix, same_path};
use crate::scope::{Occurrence, ScopeFile, ScopeLibrary};

const DIFF: &str = r#"{
  "base": "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
  "head": "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
  "files": [
    { "path": "app/main.py", "status": "modified", "old_path": null,
      "added": [ { "line": 12, "text": "import httpx" }, { "line": 13, "text": "" } ] },
    { "path": "app/old.py", "status": "deleted", "old_path": null, "added": [] },
    { "path": "app/new_name.py", "status": "renamed", "old_path": "app/old_name.py",
      "added": [ { "line": 1, "text": "x = 1" } ], "binary": false }
  ]
}"#;

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_diff_parses_and_answers_what_was_added() {
    let diff = Diff::from_text(DIFF).unwrap();
    assert_eq!(diff.range(), "1a2b3c4..5d6e7f8");
    assert_eq!(diff.paths(), ["app/main.py", "app/old.py", "app/new_name.py"]);
    assert_eq!(diff.files[2].status, Status::Renamed);
    assert_eq!(diff.files[2].old_path.as_deref(), Some("app/old_name.py"));
    assert!(diff.is_added("app/main.py", 12) && diff.is_added("app/main.py", 13));
    assert!(!diff.is_added("app/main.py", 14) && !diff.is_added("app/other.py", 12));
    let main = diff.file("app/main.py").unwrap();
    assert_eq!(main.added_text(12), Some("import httpx"));
    assert_eq!(main.added_lines().into_iter().collect::<Vec<_>>(), [12, 13]);
    assert_eq!(main.extension().as_deref(), Some("py"));
    assert!(main.exists_in_head() && !diff.files[1].exists_in_head());
}

#[test]
fn diff_errors_name_the_file_and_the_field() {
    let err = Diff::from_text(r#"{"base": "a", "head": "b", "files": [{"path": "x", "status": "copied"}]}"#).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("review/diff.json:1:"), "{text}");
    assert!(text.contains("files[0].status: unknown variant `copied`"), "{text}");
    let err = Diff::from_text(r#"{"base": "a", "files": []}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `head`"), "{err}");
    let err = Diff::from_text(r#"{"base": "a", "head": "b", "files": [{"path": "../etc/passwd", "status": "added"}]}"#).unwrap_err();
    assert_eq!(err.to_string(), "review/diff.json: files[0].path: `../etc/passwd` is not a relative path inside the workspace");
    let err = Diff::from_text(r#"{"base": "a", "head": "b", "files": [{"path": "a.py", "status": "added", "added": [{"line": 0, "text": ""}]}]}"#)
        .unwrap_err();
    assert_eq!(err.to_string(), "review/diff.json: files[0].added[0].line: 0 (line numbers start at 1)");
    assert!(Diff::from_text("{} x").is_err());
}

#[test]
fn diff_load_reads_the_workspace_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Diff::load(dir.path()), Err(DiffError::Missing));
    assert_eq!(DiffError::Missing.to_string(), "review/diff.json: no such file in the workspace");
    std::fs::create_dir_all(dir.path().join("review")).unwrap();
    std::fs::write(dir.path().join("review/diff.json"), b"\xff\xfe").unwrap();
    assert_eq!(Diff::load(dir.path()).unwrap_err().to_string(), "review/diff.json: cannot read it: not UTF-8 text");
    std::fs::write(dir.path().join("review/diff.json"), DIFF).unwrap();
    assert_eq!(Diff::load(dir.path()).unwrap().files.len(), 3);
}

#[test]
fn python_imports_give_top_level_names() {
    assert_eq!(python_imports("import httpx"), ["httpx"]);
    assert_eq!(python_imports("import a.b as c"), ["a"]);
    assert_eq!(python_imports("import a, b.c as d,e"), ["a", "b", "e"]);
    assert_eq!(python_imports("from a.b import c"), ["a"]);
    assert_eq!(python_imports("    from paho.mqtt import client as mqtt  # MQTT"), ["paho"]);
    assert_eq!(python_imports("from yaml import (safe_load,"), ["yaml"]);
    assert_eq!(python_imports("import os; import sys, os"), ["os", "sys"]);
    assert!(python_imports("from . import models").is_empty());
    assert!(python_imports("from .x import y").is_empty());
    assert!(python_imports("from ..pkg.mod import y").is_empty());
    assert!(python_imports("from __future__ import annotations").is_empty());
    assert!(python_imports("import __future__").is_empty());
    // Not imports: prose, other statements, comments, half statements.
    assert!(python_imports("import the data from the file").is_empty());
    assert!(python_imports("important = 1").is_empty());
    assert!(python_imports("# import httpx").is_empty());
    assert!(python_imports("from a").is_empty());
    assert!(python_imports("from a import").is_empty());
    assert!(python_imports("x = 'import httpx'").is_empty());
}

#[test]
fn js_imports_give_packages() {
    assert_eq!(js_imports("import x from 'pkg'"), ["pkg"]);
    assert_eq!(js_imports("import { a, b } from \"pkg/sub/path\";"), ["pkg"]);
    assert_eq!(js_imports("import * as z from '@scope/name/deep'"), ["@scope/name"]);
    assert_eq!(js_imports("import type { T } from '@types/node'"), ["@types/node"]);
    assert_eq!(js_imports("import 'side-effect'"), ["side-effect"]);
    assert_eq!(js_imports("import\"polyfill\";"), ["polyfill"]);
    assert_eq!(js_imports("export { default } from 'lodash.merge'"), ["lodash.merge"]);
    assert_eq!(js_imports("export * from 'from-x'"), ["from-x"]);
    assert_eq!(js_imports("} from 'react';"), ["react"]);
    assert_eq!(js_imports("const axios = require('axios');"), ["axios"]);
    assert_eq!(js_imports("const { a } = require(\"@org/pkg\"), b = require('b')"), ["@org/pkg", "b"]);
    assert_eq!(js_imports("import fs = require('express')"), ["express"]);
    assert_eq!(js_imports("const m = await import('chart.js')"), ["chart.js"]);
    assert_eq!(js_imports("import x from 'pkg'; import y from 'pkg'"), ["pkg"]);
    // Relative, builtin, URL, alias, dynamic and commented-out: nothing.
    assert!(js_imports("import x from './x'").is_empty());
    assert!(js_imports("import x from '../lib/x.js'").is_empty());
    assert!(js_imports("import fs from 'node:fs'").is_empty());
    assert!(js_imports("const fs = require('fs/promises')").is_empty());
    assert!(js_imports("import x from 'https://cdn.example.com/x.js'").is_empty());
    assert!(js_imports("import x from '@/components/x'").is_empty());
    assert!(js_imports("const m = require(name)").is_empty());
    assert!(js_imports("// import x from 'pkg'").is_empty());
    assert!(js_imports("x.require('pkg')").is_empty());
    assert!(js_imports("const s = 'import x from \"pkg\"'").is_empty());
}

#[test]
fn js_package_names() {
    assert_eq!(js_package("react-dom/client").as_deref(), Some("react-dom"));
    assert_eq!(js_package("@scope/name").as_deref(), Some("@scope/name"));
    assert_eq!(js_package("@scope"), None);
    assert_eq!(js_package("#internal"), None);
    assert_eq!(js_package("/abs/x"), None);
    assert_eq!(js_package("node:test"), None);
    assert_eq!(js_package("path"), None);
    assert_eq!(js_package(""), None);
}

#[test]
fn languages_by_file_name() {
    assert_eq!(Language::of("app/main.py"), Some(Language::Python));
    for f in ["a.js", "a.mjs", "a.ts", "web/A.TSX", "a.cjs", "a.jsx"] {
        assert_eq!(Language::of(f), Some(Language::JavaScript), "{f}");
    }
    for f in ["a.d.ts", "a.pyc", "README.md", "Makefile", "py"] {
        assert_eq!(Language::of(f), None, "{f}");
    }
    assert_eq!(crate::imports_of(Language::Python, "import yaml"), ["yaml"]);
    assert_eq!(crate::imports_of(Language::JavaScript, "import yaml from 'yaml'"), ["yaml"]);
}

#[test]
fn the_stdlib_list_is_cpython_3_11_sorted() {
    assert_eq!(PYTHON_STDLIB.len(), 305);
    assert!(PYTHON_STDLIB.windows(2).all(|w| w[0] < w[1]), "sorted bytewise, no repeats");
    for name in ["os", "sys", "asyncio", "__future__", "_thread", "cProfile", "tomllib", "zoneinfo", "distutils", "asynchat", "winreg"] {
        assert!(is_stdlib(name), "{name}");
    }
    for name in ["httpx", "yaml", "fastapi", "pydantic", "Os", "typing_extensions", "setuptools", "pip"] {
        assert!(!is_stdlib(name), "{name}");
    }
}

#[test]
fn distribution_names() {
    for (import, dist) in [
        ("paho", "paho-mqtt"),
        ("yaml", "pyyaml"),
        ("jwt", "pyjwt"),
        ("PIL", "pillow"),
        ("bs4", "beautifulsoup4"),
        ("sklearn", "scikit-learn"),
        ("cv2", "opencv-python"),
        ("dateutil", "python-dateutil"),
        ("dotenv", "python-dotenv"),
        ("httpx", "httpx"),
    ] {
        assert_eq!(distribution(import), dist);
    }
}

fn route(method: &str, path: &str) -> Option<Route> {
    Some(Route { method: method.into(), path: path.into() })
}

#[test]
fn route_decorators() {
    assert_eq!(parse_route("@app.get(\"/items/{id}\")"), route("GET", "/items/{id}"));
    assert_eq!(parse_route("    @router.post('/x', status_code=201)"), route("POST", "/x"));
    assert_eq!(parse_route("@router.delete(path=\"/x/{id}\")"), route("DELETE", "/x/{id}"));
    for m in ["put", "patch", "head", "options"] {
        assert_eq!(parse_route(&format!("@r.{m}(\"/\")")).map(|r| r.method), Some(m.to_ascii_uppercase()));
    }
    assert_eq!(parse_route("@api.v1.get(r'/raw')"), route("GET", "/raw"));
    assert_eq!(parse_route("@router.post(\"\")"), route("POST", ""));
    assert_eq!(parse_route("@router.post(").map(|r| r.path), None);
    assert_eq!(decorator("@router.post(").map(|d| (d.object, d.method, d.path)), Some(("router".into(), "POST".into(), None)));
    for not_a_route in ["@app.get(PATH)", "@app.route('/x')", "@app.api_route('/x')", "@get('/x')", "@pytest.fixture", "app.get('/x')", "@app.get(f'/x/{y}')", "# @app.get('/x')"] {
        assert_eq!(decorator(not_a_route), None, "{not_a_route}");
    }
    assert_eq!(route_at(&["@router.get(", "    \"/{project_id}\",", "    operation_id=\"x\","], 0).and_then(|d| d.path), Some("/{project_id}".into()));
    assert_eq!(route_at(&["@router.get(", "", "    # c", "    path='/y',"], 0).and_then(|d| d.path), Some("/y".into()));
    assert_eq!(route_at(&["@router.get(", "    PATH,"], 0), None);
    assert_eq!(route_at(&["x = 1"], 0), None);
    assert_eq!(route_at(&["@app.get('/z')"], 3), None);
}

#[test]
fn router_prefixes() {
    let text = "from fastapi import APIRouter\n\nrouter = APIRouter(\n    prefix=\"/api/v1/projects\",\n    tags=[\"prefix\"],\n    dependencies=[Depends(x)],\n)\nother: APIRouter = fastapi.APIRouter(tags=['x'], prefix='/o')\nbare = APIRouter(tags=['prefix'])\n";
    assert_eq!(router_prefix(text, "router").as_deref(), Some("/api/v1/projects"));
    assert_eq!(router_prefix(text, "mod.other").as_deref(), Some("/o"));
    assert_eq!(router_prefix(text, "bare"), None);
    assert_eq!(router_prefix(text, "app"), None);
    assert_eq!(router_prefix("routers = APIRouter(prefix='/no')\n", "router"), None);
}

#[test]
fn paths_compare_without_parameter_names() {
    assert!(same_path("/items/{id}", "/items/{item_id}"));
    assert!(same_path("/items/", "/items"));
    assert!(same_path("", "/"));
    assert!(!same_path("/items/{id}", "/items/{id}/archive"));
    assert_eq!(routes::normalize("/a/{b:path}/c/"), "/a/{}/c");
    assert_eq!(routes::join("/api/v1/projects", ""), "/api/v1/projects");
    assert_eq!(routes::join("/api", "/x/{id}"), "/api/x/{id}");
    assert_eq!(routes::join("", ""), "/");
    assert!(ends_with_path("/api/v1/items/{id}", "/items/{item_id}"));
    assert!(!ends_with_path("/api/v1/xitems", "/items"));
    assert!(ends_with_path("/items", "/items"));
}

#[test]
fn scope_file_round_trips_and_may_be_absent() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(ScopeFile::load(dir.path()), Ok(None));
    let scope = ScopeFile {
        files: strs(&["app/main.py"]),
        libraries: vec![ScopeLibrary {
            name: "pyyaml".into(),
            import: "yaml".into(),
            occurrences: vec![Occurrence { file: "app/main.py".into(), line: 3 }],
        }],
    };
    std::fs::create_dir_all(dir.path().join("review")).unwrap();
    std::fs::write(dir.path().join("review/scope.json"), serde_json::to_string(&scope).unwrap()).unwrap();
    assert_eq!(ScopeFile::load(dir.path()), Ok(Some(scope.clone())));
    assert_eq!(scope.names(), ["pyyaml"]);
    std::fs::write(dir.path().join("review/scope.json"), "[").unwrap();
    assert!(ScopeFile::load(dir.path()).unwrap_err().starts_with("review/scope.json: "));
}

#[test]
fn paths_and_revisions() {
    assert_eq!(crate::normalize_path("./app\\main.py"), "app/main.py");
    assert_eq!(crate::short_rev("1a2b3c4d5e6f"), "1a2b3c4");
    assert_eq!(crate::short_rev("HEAD"), "HEAD");
    assert!(crate::diff::is_inside("a/b.py") && !crate::diff::is_inside("/a") && !crate::diff::is_inside(""));
}
