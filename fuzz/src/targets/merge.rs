//! `merge`: publishing a task's `/out` into a workspace — the sandbox's
//! `staging::merge` (`taylordash invoke --out`), the orchestrator's
//! `merge::plan` + `merge::apply` (a run), and `blobs::materialise` /
//! `blobs::under` (a worker without the shared filesystem: paths that come
//! over the bus).
//!
//! An input is JSON: `{"staging": [[path, kind, data]…], "workspace": […],
//! "add_only": bool, "manifest": [[path, content]…]}` with kinds `f` (file,
//! `data` its content), `d` (directory), `l` (symlink to `data`; `<OUT>`
//! stands for a directory outside the workspace holding a file `secret`),
//! `p` (a FIFO). Staging and workspace trees are built in a fresh temporary
//! directory for each input; entries that cannot be made are skipped.
//!
//! Properties (a panic is a crash):
//! - nothing outside the workspace changes: the `<OUT>` directory (and the
//!   staging tree) are the same after every merge, whatever symlinks the
//!   staging tree or the workspace hold — a symlink is never followed out;
//! - a staging tree holding a symlink or a special file anywhere is refused
//!   (`NotRegular` / a refused plan), publishing nothing;
//! - an accepted merge publishes exactly the staged regular files, each a
//!   regular file (not a symlink) in the workspace with the staged bytes,
//!   and leaves every other workspace entry as it was; with `add_only` it
//!   replaced no existing file (one with the very same bytes is confirmed);
//! - a refused merge changed no regular file of the workspace and added
//!   none (all or nothing);
//! - a manifest path that is not plain (absolute, `..`, empty) is refused;
//!   `blobs::under` never yields a path outside its root, and materialising
//!   writes only under its destination.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use taylordash::blobs::{self, BlobCache, Entry, Manifest};
use taylordash::orchestrator::merge::{self, Merger};
use taylordash::sandbox::staging::{self, MergeError};
use taylordash::store::Journal;

use crate::engine::{Feedback, Target};

const DICTIONARY: &[&str] = &[
    "[\"a\",\"f\",\"x\"]", "[\"link\",\"l\",\"<OUT>\"]", "[\"a/b\",\"d\",\"\"]", "[\"p\",\"p\",\"\"]", "\"..\"", "\"/\"",
    "\"<OUT>/secret\"", "\"../outside\"", "\"add_only\":true", "\"manifest\":", "\"staging\":", "\"workspace\":",
    "\"f\"", "\"l\"", "\"d\"", "\"p\"", "/", ".", "..", "\\u0000", "\\n", "[", "]", ",",
];

pub fn target() -> Target {
    Target { name: "merge", run, generate: Some(generate), seeds, dictionary: DICTIONARY, max_len: 8 << 10 }
}

fn seeds() -> Vec<Vec<u8>> {
    [
        json!({ "staging": [["a.txt", "f", "new"], ["sub/b.txt", "f", "b"]], "workspace": [["a.txt", "f", "old"]], "add_only": false }),
        json!({ "staging": [["a.txt", "f", "new"]], "workspace": [["a.txt", "f", "old"]], "add_only": true }),
        json!({ "staging": [["sub/evil", "l", "<OUT>/secret"]], "workspace": [] }),
        json!({ "staging": [["link/x.txt", "f", "pwned"]], "workspace": [["link", "l", "<OUT>"]] }),
        json!({ "staging": [["p", "p", ""]], "workspace": [], "manifest": [["../x", "x"], ["/etc/passwd", "x"], ["a/b", "y"]] }),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect()
}

fn rel_path() -> impl Strategy<Value = String> {
    vec(proptest::sample::select(&["a", "b", "sub", "link", "x.txt", ".hidden", "é", "a\nb"][..]), 1..4).prop_map(|c| c.join("/"))
}

fn entry() -> impl Strategy<Value = Value> {
    let target = proptest::sample::select(&["<OUT>", "<OUT>/secret", "../outside", "../../outside", "../../../outside", "/", "a", ".", "x.txt"][..]);
    prop_oneof![
        4 => (rel_path(), "[a-z]{0,4}").prop_map(|(p, c)| json!([p, "f", c])),
        2 => rel_path().prop_map(|p| json!([p, "d", ""])),
        2 => (rel_path(), target).prop_map(|(p, t)| json!([p, "l", t])),
        1 => rel_path().prop_map(|p| json!([p, "p", ""])),
    ]
}

fn manifest_path() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => rel_path(),
        1 => vec(proptest::sample::select(&["a", "..", ".", "", "/", "b", "//"][..]), 1..5).prop_map(|c| c.concat()),
        1 => vec(proptest::sample::select(&["a", "..", ".", "b"][..]), 1..5).prop_map(|c| c.join("/")),
    ]
}

/// Trees and a manifest, as JSON bytes.
fn generate(runner: &mut TestRunner) -> Vec<u8> {
    let strategy = (vec(entry(), 0..6), vec(entry(), 0..5), any::<bool>(), vec((manifest_path(), "[a-z]{0,3}"), 0..4))
        .prop_map(|(staging, workspace, add_only, manifest)| {
            serde_json::to_vec(&json!({ "staging": staging, "workspace": workspace, "add_only": add_only, "manifest": manifest })).unwrap()
        });
    strategy.new_tree(runner).map(|t| t.current()).unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(PathBuf),
    Other,
}

/// Every entry under `root`, symlinks not followed.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        let Ok(entries) = std::fs::read_dir(root.join(rel)) else { return };
        for e in entries.flatten() {
            let rel = rel.join(e.file_name());
            let path = root.join(&rel);
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let ft = meta.file_type();
            let node = if ft.is_symlink() {
                Node::Link(std::fs::read_link(&path).unwrap_or_default())
            } else if ft.is_dir() {
                walk(root, &rel, out);
                Node::Dir
            } else if ft.is_file() {
                Node::File(std::fs::read(&path).unwrap_or_default())
            } else {
                Node::Other
            };
            out.insert(rel, node);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

fn plain(rel: &str) -> bool {
    !rel.is_empty() && Path::new(rel).components().all(|c| matches!(c, Component::Normal(_)))
}

/// Whether `root/rel` can be made without going through anything but real
/// directories of the tree, and nothing is there yet.
fn free(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_dir() && at.as_path() != root.join(rel) => {}
            Ok(_) => return false,
            Err(_) => return true,
        }
    }
    false
}

/// Where a symlink of the trees points: always inside the temporary
/// directory, so that a merge that does follow one is caught without
/// touching the machine — `<OUT>` (or anything with `..`) is the outside
/// directory, an absolute target is taken under it, a relative one without
/// `..` stays in the tree.
fn link_target(data: &str, outside: &Path) -> PathBuf {
    let data = data.replace("<OUT>", &outside.to_string_lossy());
    let path = PathBuf::from(&data);
    if path.starts_with(outside) && !path.components().any(|c| c == Component::ParentDir) {
        path
    } else if path.components().any(|c| c == Component::ParentDir) {
        outside.to_path_buf()
    } else if path.is_absolute() {
        outside.join(path.strip_prefix("/").unwrap_or(&path))
    } else {
        path
    }
}

/// Make the tree described by `entries` under `root`; what cannot be made
/// (safely: never through a symlink, never over an existing entry) is skipped.
fn build(root: &Path, entries: &[Value], outside: &Path) {
    std::fs::create_dir_all(root).expect("a tree root");
    for e in entries {
        let (Some(path), Some(kind)) = (e.get(0).and_then(Value::as_str), e.get(1).and_then(Value::as_str)) else { continue };
        let data = e.get(2).and_then(Value::as_str).unwrap_or("");
        if !plain(path) {
            continue;
        }
        // Make the parents one by one, each a real directory.
        let rel = Path::new(path);
        let mut ok = true;
        let mut at = PathBuf::new();
        for c in rel.parent().into_iter().flat_map(Path::components) {
            at.push(c);
            match std::fs::symlink_metadata(root.join(&at)) {
                Ok(m) if m.file_type().is_dir() => {}
                Ok(_) => ok = false,
                Err(_) => ok &= std::fs::create_dir(root.join(&at)).is_ok(),
            }
            if !ok {
                break;
            }
        }
        if !ok || !free(root, rel) {
            continue;
        }
        let at = root.join(rel);
        let _ = match kind {
            "f" => std::fs::write(&at, data),
            "d" => std::fs::create_dir(&at),
            "l" => std::os::unix::fs::symlink(link_target(data, outside), &at),
            "p" => {
                let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).unwrap_or_default();
                // SAFETY: a NUL-terminated path; mkfifo touches nothing else.
                if unsafe { libc::mkfifo(c.as_ptr(), 0o644) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
            }
            _ => Ok(()),
        };
    }
}

fn files(snap: &BTreeMap<PathBuf, Node>) -> BTreeMap<&PathBuf, &Vec<u8>> {
    snap.iter().filter_map(|(p, n)| if let Node::File(b) = n { Some((p, b)) } else { None }).collect()
}

/// The checks every merge shares: its outcome against the trees before and after.
fn check_merge(
    what: &str,
    ok: bool,
    staged: &BTreeMap<PathBuf, Node>,
    before: &BTreeMap<PathBuf, Node>,
    after: &BTreeMap<PathBuf, Node>,
    add_only: bool,
    published: Option<&[PathBuf]>,
) {
    let special = staged.values().any(|n| matches!(n, Node::Link(_) | Node::Other));
    let staged_files = files(staged);
    if ok {
        assert!(!special, "{what}: a staging tree with a symlink or special file was merged");
        let published: Vec<&PathBuf> = match published {
            Some(p) => p.iter().collect(),
            None => staged_files.keys().copied().collect(),
        };
        for rel in &published {
            let content = staged_files.get(rel).unwrap_or_else(|| panic!("{what}: published {rel:?}, which was not staged"));
            match after.get(*rel) {
                Some(Node::File(b)) => assert_eq!(b, *content, "{what}: {rel:?} does not hold the staged bytes"),
                other => panic!("{what}: published {rel:?} is {other:?} in the workspace"),
            }
            if add_only {
                // An identical file is confirmed (`Action::Same`), not replaced.
                if let Some(Node::File(old)) = before.get(*rel) {
                    assert_eq!(old, *content, "{what}: add_only replaced {rel:?}");
                }
            }
        }
        for (rel, node) in before {
            if !staged_files.contains_key(rel) && !matches!(node, Node::Dir) {
                assert_eq!(after.get(rel), Some(node), "{what}: {rel:?} changed though nothing was staged there");
            }
        }
    } else {
        let (b, a) = (files(before), files(after));
        assert_eq!(a, b, "{what}: a refused merge changed the workspace's files");
    }
}

thread_local! {
    static JOURNAL: (tempfile::TempDir, Journal) = {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let journal = Journal::open(&dir.path().join("journal.db")).expect("an empty journal");
        (dir, journal)
    };
}

pub fn run(input: &[u8], fb: &mut Feedback) {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        fb.note("not-json");
        return;
    };
    let list = |k: &str| doc.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let (staging_entries, workspace_entries, manifest_entries) = (list("staging"), list("workspace"), list("manifest"));
    let add_only = doc.get("add_only").and_then(Value::as_bool).unwrap_or(false);

    let tmp = tempfile::tempdir().expect("a temporary directory");
    let root = tmp.path();
    let outside = root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "secret").unwrap();
    let (staging_dir, ws1, ws2) = (root.join("staging"), root.join("ws1"), root.join("ws2"));
    build(&staging_dir, &staging_entries, &outside);
    build(&ws1, &workspace_entries, &outside);
    build(&ws2, &workspace_entries, &outside);
    let outside_before = snapshot(&outside);
    let staged = snapshot(&staging_dir);
    let before = snapshot(&ws1);

    // The sandbox's merge (`taylordash invoke --out`).
    let r = staging::merge(&staging_dir, &ws1, add_only, Duration::from_secs(30));
    assert_eq!(snapshot(&outside), outside_before, "staging::merge changed a directory outside the workspace");
    assert_eq!(snapshot(&staging_dir), staged, "staging::merge changed the staging tree");
    let after = snapshot(&ws1);
    match &r {
        Ok(merged) => {
            fb.note(("merge-ok", merged.len().min(4)));
            assert_eq!(merged.len(), files(&staged).len(), "staging::merge reports {} files of {}", merged.len(), files(&staged).len());
        }
        Err(e) => {
            fb.note(("merge-err", std::mem::discriminant(e)));
            if staged.values().any(|n| matches!(n, Node::Link(_) | Node::Other)) {
                assert!(matches!(e, MergeError::NotRegular(_)), "a symlink or special file refused as {e}");
            }
        }
    }
    check_merge("staging::merge", r.is_ok(), &staged, &before, &after, add_only, None);

    // The orchestrator's merge (a run): plan, then apply.
    let agents = ["a".to_string(), "b".to_string()];
    let m = Merger { task_id: "t1", agent: "a", stage: "s", agents: &agents, reservations: &[], add_only };
    let planned = JOURNAL.with(|(_, journal)| merge::plan(&m, journal, &staging_dir, &ws2));
    assert_eq!(snapshot(&outside), outside_before, "merge::plan changed a directory outside the workspace");
    let result = planned.and_then(|planned| merge::apply(&planned, &staging_dir, &ws2));
    assert_eq!(snapshot(&outside), outside_before, "merge::apply wrote outside the workspace");
    assert_eq!(snapshot(&staging_dir), staged, "merge::apply changed the staging tree");
    let after2 = snapshot(&ws2);
    match &result {
        Ok(published) => {
            fb.note(("plan-ok", published.len().min(4)));
            let published: Vec<PathBuf> = published.iter().map(PathBuf::from).collect();
            check_merge("merge::apply", true, &staged, &before, &after2, add_only, Some(&published));
        }
        Err(e) => {
            fb.note_message(&e.to_string());
            // apply writes file by file: a refusal is all-or-nothing only before it starts.
            if !matches!(e, merge::MergeRefused::Io { .. }) {
                check_merge("merge::plan", false, &staged, &before, &after2, add_only, None);
            }
        }
    }

    // Materialising a manifest whose paths came over the bus: into a
    // destination eight directories deep, with absolute paths taken under
    // the outside directory and at most eight `..`, so that a path that
    // escapes lands inside the temporary directory, where it is seen.
    let deep = root.join("m/m/m/m/m/m/m/m");
    let dest = deep.join("materialised");
    std::fs::create_dir_all(&deep).unwrap();
    let cache = BlobCache::new(root.join("cache"), 1 << 20).unwrap();
    let mut manifest = Manifest::default();
    let mut contents = BTreeMap::new();
    for e in &manifest_entries {
        let (Some(path), content) = (e.get(0).and_then(Value::as_str), e.get(1).and_then(Value::as_str).unwrap_or("")) else { continue };
        let path = &path.replace("<OUT>", &outside.to_string_lossy());
        let path = &match Path::new(path) {
            p if p.is_absolute() && !p.starts_with(&outside) => outside.join(p.strip_prefix("/").unwrap_or(p)).to_string_lossy().into_owned(),
            _ => path.clone(),
        };
        if path.contains('\0') || Path::new(path).components().filter(|c| *c == Component::ParentDir).count() > 8 {
            continue;
        }
        let entry = Entry { sha256: blobs::sha256_hex(content.as_bytes()), size: content.len() as u64, mode: 0o644 };
        manifest.files.insert(path.to_string(), entry);
        contents.insert(blobs::sha256_hex(content.as_bytes()), content.as_bytes().to_vec());
        match blobs::under(root, path) {
            Ok(p) => {
                assert!(plain(path), "blobs::under accepted {path:?}");
                assert!(p.starts_with(root) && p.components().all(|c| !matches!(c, Component::ParentDir)), "blobs::under({path:?}) = {p:?}");
            }
            Err(_) => assert!(!plain(path), "blobs::under refused the plain path {path:?}"),
        }
    }
    let all_plain = manifest.files.keys().all(|p| plain(p));
    let r = blobs::materialise(&manifest, &dest, &cache, |_, e| Ok(contents.get(&e.sha256).cloned().unwrap_or_default()));
    assert_eq!(snapshot(&outside), outside_before, "materialise wrote outside its destination");
    for rel in snapshot(&root.join("m")).keys() {
        assert!(
            Path::new("m").join(rel).starts_with("m/m/m/m/m/m/m/m/materialised") || Path::new("m/m/m/m/m/m/m/m").starts_with(Path::new("m").join(rel)),
            "materialise wrote {rel:?} outside its destination"
        );
    }
    match r {
        Ok(_) => {
            assert!(all_plain, "materialise accepted a path that is not plain: {:?}", manifest.files.keys().collect::<Vec<_>>());
            let got = snapshot(&dest);
            // `a//b` and `a/b` name one file: the last written wins, so check only unambiguous paths.
            let mut names: BTreeMap<PathBuf, usize> = BTreeMap::new();
            for path in manifest.files.keys() {
                *names.entry(PathBuf::from(path)).or_default() += 1;
            }
            for (path, e) in &manifest.files {
                if names[&PathBuf::from(path)] == 1 {
                    assert_eq!(got.get(Path::new(path)), Some(&Node::File(contents[&e.sha256].clone())), "materialised {path:?}");
                }
            }
            fb.note("materialised");
        }
        Err(e) => fb.note_message(&e.to_string()),
    }
    // Give write bits back so the temporary directory can be removed.
    make_writable(root);
}

fn make_writable(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (rel, node) in snapshot(root) {
        if matches!(node, Node::Dir) {
            let _ = std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755));
        }
    }
}
