//! The plugin catalogue: which tools a plugins directory holds, by file name
//! alone. Pipeline validation, the policy check and the sandbox all ask it;
//! it opens no component (loading and checking one is the sandbox's job).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `planner` for `…/planner.wasm`.
pub fn plugin_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The `.wasm` files of `dir`, sorted by name.
pub fn list_plugins(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    found.sort();
    Ok(found)
}

/// The tool names `dir` holds; empty when it cannot be read (a pipeline or
/// policy may be checked on a machine where the plugins are not built).
pub fn tool_names(dir: &Path) -> BTreeSet<String> {
    list_plugins(dir).unwrap_or_default().iter().map(|p| plugin_name(p)).collect()
}

/// The file of a plugin named by tool name (looked up in `dir`) or by path;
/// `None` when there is no such file.
pub fn find_plugin(spec: &str, dir: &Path) -> Option<PathBuf> {
    let as_path = Path::new(spec);
    if spec.ends_with(".wasm") || spec.contains(std::path::MAIN_SEPARATOR) {
        return as_path.is_file().then(|| as_path.to_path_buf());
    }
    let candidate = dir.join(format!("{spec}.wasm"));
    candidate.is_file().then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_wasm_files_by_name_and_finds_them() {
        let dir = std::env::temp_dir().join(format!("td-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.wasm"), b"").unwrap();
        std::fs::write(dir.join("a.wasm"), b"").unwrap();
        std::fs::write(dir.join("notes.txt"), b"").unwrap();
        let names: Vec<String> = tool_names(&dir).into_iter().collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(find_plugin("a", &dir), Some(dir.join("a.wasm")));
        assert_eq!(find_plugin("c", &dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
