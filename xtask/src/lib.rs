//! Building the workspace's WebAssembly components, shared by `cargo xtask`
//! and the host's tests (which build the plugins they run, as wasmtime's
//! test-programs do, so `cargo test` works on a fresh clone).
//!
//! Every crate under `plugins/` becomes `target/plugins/<tool>.wasm`; every
//! crate under `tests/plugins/` becomes `target/test-plugins/<name>.wasm`.
//! Their `describe` schemas are generated natively first (`describe_natively`)
//! and embedded as text, so no component links schemars.
//! They are built with the `plugin` profile (opt-level z, LTO, stripped) in
//! their own target directory, so a build started from inside `cargo test`
//! never waits on the outer cargo's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub const WASM_TARGET: &str = "wasm32-wasip2";
pub const PROFILE: &str = "plugin";

/// The workspace root (where the top Cargo.toml lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A component built from a crate.
#[derive(Debug, Clone)]
pub struct Built {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
}

/// Add the wasm target when the toolchain lacks it (RUSTUP_AUTO_INSTALL=0
/// machines never add it on their own).
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).exists() {
        return Ok(());
    }
    eprintln!("xtask: adding the {WASM_TARGET} target");
    let status = Command::new("rustup").args(["target", "add", WASM_TARGET]).status().context("running rustup")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed");
    }
    Ok(())
}

/// The crate names under `dir` (each subdirectory with a Cargo.toml).
fn crates_in(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    if !dir.exists() {
        return Ok(names);
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            if let Some(name) = path.file_name() {
                names.push(name.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// `cargo` (the one running xtask, when it says so) with `dir` as its
/// working directory.
pub fn cargo_in(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir);
    cmd
}

/// Build every plugin and test plugin; returns what was built.
pub fn build_plugins(root: &Path) -> anyhow::Result<Vec<Built>> {
    build_only(root, None)
}

/// Build the plugins and test plugins named in `only` (all when `None`).
pub fn build_only(root: &Path, only: Option<&[&str]>) -> anyhow::Result<Vec<Built>> {
    ensure_wasm_target()?;
    let groups = [("plugins", "plugins"), ("tests/plugins", "test-plugins")];
    let mut crates = Vec::new();
    let mut tools = Vec::new();
    for (src, dest) in groups {
        for name in crates_in(&root.join(src))? {
            if only.is_none_or(|names| names.contains(&name.as_str())) {
                let dir = root.join(src).join(&name);
                if exports_a_tool(&dir) {
                    tools.push((name.clone(), dir));
                }
                crates.push((name, dest));
            }
        }
    }
    let build_dir = root.join("target").join("wasm-build");
    let schemas = build_dir.join("schemas");
    describe_natively(root, &build_dir, &tools, &schemas)?;
    let mut cmd = cargo_in(root);
    cmd.args(["build", "--target", WASM_TARGET, "--profile", PROFILE, "--target-dir"])
        .arg(&build_dir);
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    // Flags for the host build (e.g. from `cargo test`) must not leak into the guest build.
    cmd.env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    // `export_tool!` embeds `<schemas>/<crate>.{input,output}.json` (sdk/build.rs).
    cmd.env("TAYLORDASH_SCHEMAS", &schemas);
    let status = cmd.status().context("running cargo build for the plugins")?;
    if !status.success() {
        bail!("building the plugins failed");
    }
    let mut built = Vec::new();
    for (name, dest) in crates {
        let artifact = build_dir.join(WASM_TARGET).join(PROFILE).join(format!("{}.wasm", name.replace('-', "_")));
        let out_dir = root.join("target").join(dest);
        std::fs::create_dir_all(&out_dir)?;
        let path = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&artifact, &path)
            .with_context(|| format!("copying {} to {}", artifact.display(), path.display()))?;
        let size = std::fs::metadata(&path)?.len();
        built.push(Built { name, path, size });
    }
    Ok(built)
}

/// Does the crate in `dir` export a tool (`export_tool!` at its root)?
fn exports_a_tool(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("src/lib.rs")).is_ok_and(|lib| lib.contains("export_tool!("))
}

/// Write `text` to `path` unless it already holds it (an unchanged file keeps
/// its mtime, so cargo does not rebuild what depends on it).
fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Every tool's `describe` schemas, generated natively into
/// `schemas/<crate>.input.json` and `.output.json` before the components are
/// built, so a component returns them as text and links no schemars: a
/// generated program (`<build_dir>/describe`, its own workspace on this
/// one's Cargo.lock) calls each tool crate's `__taylordash_describe()`
/// (`export_tool!`), i.e. `taylordash_sdk::describe`, exactly what the
/// component computed at run time before.
fn describe_natively(root: &Path, build_dir: &Path, tools: &[(String, PathBuf)], schemas: &Path) -> anyhow::Result<()> {
    if tools.is_empty() {
        return Ok(());
    }
    let dir = build_dir.join("describe");
    std::fs::create_dir_all(dir.join("src"))?;
    let mut manifest = String::from(
        "# Generated by `cargo xtask build-plugins` (xtask/src/lib.rs): every tool's `describe`, natively.\n\
         [package]\nname = \"taylordash-describe\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[profile.dev]\ndebug = false\n\n[dependencies]\n",
    );
    let mut calls = String::new();
    for (name, path) in tools {
        let path = path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))?;
        manifest.push_str(&format!("{name} = {{ path = {path:?} }}\n"));
        calls.push_str(&format!("        ({name:?}, {}::__taylordash_describe()),\n", name.replace('-', "_")));
    }
    let main = format!(
        "//! Generated by `cargo xtask build-plugins` (xtask/src/lib.rs).\n\n\
         use std::path::Path;\n\n\
         fn write(dir: &Path, file: String, text: &str) {{\n\
         \x20   let path = dir.join(file);\n\
         \x20   if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {{\n\
         \x20       std::fs::write(&path, text).unwrap_or_else(|e| panic!(\"writing {{}}: {{e}}\", path.display()));\n\
         \x20   }}\n\
         }}\n\n\
         fn main() {{\n\
         \x20   let dir = std::env::args_os().nth(1).expect(\"usage: taylordash-describe <schemas dir>\");\n\
         \x20   let dir = Path::new(&dir);\n\
         \x20   std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!(\"creating {{}}: {{e}}\", dir.display()));\n\
         \x20   for (name, info) in [\n{calls}    ] {{\n\
         \x20       write(dir, format!(\"{{name}}.input.json\"), &info.input_schema);\n\
         \x20       write(dir, format!(\"{{name}}.output.json\"), &info.output_schema);\n\
         \x20   }}\n\
         }}\n"
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("src/main.rs"), &main)?;
    // The same dependency versions as the components (nothing resolved anew).
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    write_if_changed(&dir.join("Cargo.lock"), &lock)?;
    let status = cargo_in(root)
        .arg("run")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(build_dir)
        .arg("--")
        .arg(schemas)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .context("running cargo run for the tools' schemas")?;
    if !status.success() {
        bail!("generating the tools' schemas (describe) failed");
    }
    Ok(())
}

/// Whether `program` is on the PATH.
pub fn has_command(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// The Python and JavaScript SDKs' build scripts: their own tests, their
/// examples (`target/py-plugins`, `target/js-plugins`) and the test guests
/// written in those languages (`target/test-plugins/<name>_py.wasm`,
/// `<name>_js.wasm`). Each script skips what is already up to date. A
/// language whose toolchain (python3, npm) is missing is skipped and named
/// in the result, so the caller can say so loudly.
pub fn build_guests(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut skipped = Vec::new();
    for (lang, needs, script) in [("python", "python3", "sdk/python/build.sh"), ("js", "npm", "sdk/js/build.sh")] {
        if !has_command(needs) {
            skipped.push(format!("{lang}: `{needs}` not found"));
            continue;
        }
        let status = Command::new("bash").arg(root.join(script)).current_dir(root).status()
            .with_context(|| format!("running {script}"))?;
        if !status.success() {
            bail!("{script} failed");
        }
    }
    Ok(skipped)
}
