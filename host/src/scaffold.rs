//! `taylordash new`: a plugin project of one's own, outside this repository,
//! in Rust, Python or JavaScript/TypeScript.
//!
//! The templates live in `host/templates/new/<lang>/` and are compiled into
//! the binary. Placeholders: `{{name}}` (the tool's snake_case name, also in
//! file names), `{{Name}}` (its CamelCase), `{{sdk}}` (where the SDK comes
//! from: a Cargo dependency for Rust, an absolute path for Python and JS) and
//! `{{sdk_docs}}` (the language's SDK guide). `_gitignore` becomes
//! `.gitignore` (a real one would apply to this repository).
//!
//! Nothing is overwritten: a target that exists and is not empty is refused
//! before a file is written.

use std::fmt;
use std::path::{Path, PathBuf};

/// The languages a tool can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::Js];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// The SDK's folder inside this repository (`sdk/`, `sdk/python`, `sdk/js`).
    fn sdk_subdir(self) -> &'static str {
        match self {
            Lang::Rust => "",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// The file that says the folder is that language's SDK.
    fn sdk_marker(self) -> &'static str {
        match self {
            Lang::Rust => "Cargo.toml",
            Lang::Python => "pyproject.toml",
            Lang::Js => "package.json",
        }
    }

    fn guide(self) -> &'static str {
        match self {
            Lang::Rust => "rust.md",
            Lang::Python => "README.md",
            Lang::Js => "README.md",
        }
    }

    fn templates(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Rust => RUST,
            Lang::Python => PYTHON,
            Lang::Js => JS,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! templates {
    ($lang:literal: $($file:literal),+ $(,)?) => {
        &[$(($file, include_str!(concat!("../templates/new/", $lang, "/", $file)))),+]
    };
}

const RUST: &[(&str, &str)] = templates!("rust": "Cargo.toml", "src/lib.rs", "README.md", "_gitignore");
const PYTHON: &[(&str, &str)] =
    templates!("python": "{{name}}.py", "test_{{name}}.py", "requirements-dev.txt", "README.md", "_gitignore");
const JS: &[(&str, &str)] = templates!("js": "package.json", ".npmrc", "tsconfig.json", "src/{{name}}.ts",
    "test/{{name}}.test.ts", "README.md", "_gitignore");

/// Where the Rust template takes the SDK from when this binary was not
/// built from a checkout and no `--sdk` is given (until it is published).
pub const SDK_GIT: &str = "https://github.com/taylordash/taylordash";

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub lang: Lang,
    /// The project folder (default: `./<name>`).
    pub dir: PathBuf,
    /// The SDK folder for `lang`; `None`: the checkout this binary was built from.
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{0}` is not a tool name: use lowercase letters, digits and `_`, starting with a letter (e.g. `my_tool`)")]
    BadName(String),
    #[error("{0} already exists and is not empty; choose another --dir or remove it")]
    NotEmpty(PathBuf),
    #[error("--sdk {path}: no {marker} there; give the {lang} SDK's folder (sdk/{sub} in the TaylorDash repository)")]
    NotAnSdk { path: PathBuf, marker: &'static str, lang: Lang, sub: &'static str },
    #[error("the {0} SDK is not published yet and this taylordash was not built from a checkout: pass --sdk PATH (sdk/{1} in the TaylorDash repository)")]
    NoSdk(Lang, &'static str),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A snake_case identifier every language accepts as a module and crate name.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64;
    if ok { Ok(()) } else { Err(ScaffoldError::BadName(name.to_string())) }
}

/// `my_tool` → `MyTool`.
pub fn camel_case(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The checkout this binary was built from, when it is still there.
fn checkout_sdk(lang: Lang) -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk").join(lang.sdk_subdir());
    sdk.join(lang.sdk_marker()).is_file().then(|| sdk.canonicalize().unwrap_or(sdk))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io { path: path.to_path_buf(), source }
}

/// Where the SDK comes from, as the template writes it.
fn sdk_source(p: &NewProject) -> Result<(String, String), ScaffoldError> {
    let lang = p.lang;
    let dir = match &p.sdk {
        Some(given) => {
            if !given.join(lang.sdk_marker()).is_file() {
                return Err(ScaffoldError::NotAnSdk {
                    path: given.clone(),
                    marker: lang.sdk_marker(),
                    lang,
                    sub: lang.sdk_subdir(),
                });
            }
            Some(std::path::absolute(given).map_err(io(given))?)
        }
        None => checkout_sdk(lang),
    };
    let toml_str = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    match (lang, dir) {
        (Lang::Rust, Some(d)) => {
            let docs = d.join(lang.guide()).display().to_string();
            Ok((format!("{{ path = {} }}", toml_str(&d.display().to_string())), docs))
        }
        (Lang::Rust, None) => Ok((format!("{{ git = {} }}", toml_str(SDK_GIT)), format!("{SDK_GIT}/blob/main/sdk/rust.md"))),
        (_, Some(d)) => {
            let docs = d.join(lang.guide()).display().to_string();
            Ok((d.display().to_string(), docs))
        }
        (_, None) => Err(ScaffoldError::NoSdk(lang, lang.sdk_subdir())),
    }
}

/// Write the project; returns the files written (relative to `dir`), in order.
pub fn scaffold(p: &NewProject) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(&p.name)?;
    if let Ok(mut entries) = std::fs::read_dir(&p.dir)
        && entries.next().is_some()
    {
        return Err(ScaffoldError::NotEmpty(p.dir.clone()));
    }
    let (sdk, sdk_docs) = sdk_source(p)?;
    let camel = camel_case(&p.name);
    let fill = |s: &str| {
        s.replace("{{name}}", &p.name).replace("{{Name}}", &camel).replace("{{sdk}}", &sdk).replace("{{sdk_docs}}", &sdk_docs)
    };
    let mut written = Vec::new();
    for (file, text) in p.lang.templates() {
        let rel = match *file {
            "_gitignore" => PathBuf::from(".gitignore"),
            f => PathBuf::from(fill(f)),
        };
        let path = p.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, fill(text)).map_err(io(&path))?;
        written.push(rel);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_identifiers() {
        for good in ["hello", "my_tool", "t2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Hello", "2x", "my-tool", "a b", "../x", "_x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_name("my-tool").unwrap_err().to_string(),
            "`my-tool` is not a tool name: use lowercase letters, digits and `_`, starting with a letter (e.g. `my_tool`)"
        );
        assert_eq!(camel_case("my_tool_2"), "MyTool2");
    }

    #[test]
    fn every_template_names_the_tool_and_no_placeholder_survives() {
        let dir = tempfile::tempdir().unwrap();
        for lang in Lang::ALL {
            let project = NewProject { name: "word_count".into(), lang, dir: dir.path().join(lang.as_str()), sdk: None };
            let files = scaffold(&project).unwrap();
            assert!(files.iter().any(|f| f == Path::new(".gitignore")), "{lang}");
            for f in &files {
                let text = std::fs::read_to_string(project.dir.join(f)).unwrap();
                assert!(!text.contains("{{"), "{lang}: {} keeps a placeholder", f.display());
            }
            let readme = std::fs::read_to_string(project.dir.join("README.md")).unwrap();
            assert!(readme.contains("word_count"), "{lang}: the README names the tool");
            assert!(readme.lines().count() <= 30, "{lang}: the README is short");
        }
    }

    /// The benchmark's Rust baseline (`tests/plugins/hello`) is the Rust
    /// template's tool, below its module comment: the per-language figures
    /// compare what `taylordash new` gives in each language.
    #[test]
    fn the_benchmarks_rust_hello_is_the_template() {
        let body = |text: &str| text.lines().skip_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
        let template = RUST.iter().find(|(f, _)| *f == "src/lib.rs").unwrap().1.replace("{{name}}", "hello").replace("{{Name}}", "Hello");
        let baseline = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/hello/src/lib.rs")).unwrap();
        assert_eq!(body(&baseline), body(&template), "copy the template into tests/plugins/hello/src/lib.rs");
    }

    #[test]
    fn a_folder_in_use_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let project = NewProject { name: "hello".into(), lang: Lang::Rust, dir: dir.path().to_path_buf(), sdk: None };
        let err = scaffold(&project).unwrap_err();
        assert_eq!(err.to_string(), format!("{} already exists and is not empty; choose another --dir or remove it", dir.path().display()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_sdk_path_that_is_not_the_languages_sdk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let project = NewProject {
            name: "hello".into(),
            lang: Lang::Python,
            dir: dir.path().join("p"),
            sdk: Some(dir.path().to_path_buf()),
        };
        assert_eq!(
            scaffold(&project).unwrap_err().to_string(),
            format!("--sdk {}: no pyproject.toml there; give the python SDK's folder (sdk/python in the TaylorDash repository)", dir.path().display())
        );
    }
}
