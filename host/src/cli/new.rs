//! `taylordash new`: scaffold a plugin project outside this repository.

use std::path::PathBuf;

use crate::scaffold::{Lang, NewProject, ScaffoldError, scaffold};

use super::UsageError;

#[derive(clap::Args)]
pub struct NewArgs {
    /// The tool's name (snake_case): its module, crate or package and `.wasm`.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value = "rust")]
    lang: LangArg,
    /// The project folder (default: ./<name>); must be missing or empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The SDK's folder (sdk/, sdk/python or sdk/js of a TaylorDash checkout).
    /// Default: the checkout this binary was built from; for Rust without a
    /// checkout, the SDK's git repository.
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LangArg {
    Rust,
    Python,
    Js,
}

pub fn run(args: &NewArgs) -> anyhow::Result<i32> {
    let lang = match args.lang {
        LangArg::Rust => Lang::Rust,
        LangArg::Python => Lang::Python,
        LangArg::Js => Lang::Js,
    };
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    let project = NewProject { name: args.name.clone(), lang, dir: dir.clone(), sdk: args.sdk.clone() };
    let files = scaffold(&project).map_err(|e| match e {
        ScaffoldError::Io { .. } => anyhow::Error::new(e),
        usage => UsageError(usage.to_string()).into(),
    })?;
    println!("created {} ({lang}): {}", dir.display(), files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    println!("next: cd {} and follow README.md", dir.display());
    Ok(0)
}
