//! `taylordash-fuzz [--time SECS] [--target NAME] [--seed N] [--hang SECS]
//! [--crashes DIR] [--replay FILE]`: fuzz each target (or one) for SECS
//! seconds, print executions, execs/s and crashes per target, save crashing
//! inputs under `target/fuzz-crashes/<target>/`, and exit 1 if any target
//! crashed. `--replay FILE` runs one saved input of `--target` and prints
//! the panic, if any. `cargo xtask fuzz` runs this.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use taylordash_fuzz::engine::{self, Feedback, Options};
use taylordash_fuzz::targets;

const USAGE: &str = "usage: taylordash-fuzz [--time SECS] [--target NAME] [--seed N] [--hang SECS] [--crashes DIR] [--replay FILE]";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the fuzz crate is in the workspace").to_path_buf()
}

fn main() -> ExitCode {
    let mut time = 60u64;
    let mut only: Option<String> = None;
    let mut seed: Option<u64> = None;
    let mut hang = 20u64;
    let mut crashes: Option<PathBuf> = None;
    let mut replay: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| die(&format!("{name} needs a value")));
        match a.as_str() {
            "--time" => time = value("--time").parse().unwrap_or_else(|_| die("--time takes whole seconds")),
            "--target" => only = Some(value("--target")),
            "--seed" => seed = Some(value("--seed").parse().unwrap_or_else(|_| die("--seed takes a number"))),
            "--hang" => hang = value("--hang").parse().unwrap_or_else(|_| die("--hang takes whole seconds")),
            "--crashes" => crashes = Some(PathBuf::from(value("--crashes"))),
            "--replay" => replay = Some(PathBuf::from(value("--replay"))),
            "-h" | "--help" => {
                println!("{USAGE}\ntargets: {}", names());
                return ExitCode::SUCCESS;
            }
            other => die(&format!("unknown argument `{other}`")),
        }
    }
    let chosen = match &only {
        Some(name) => vec![targets::by_name(name).unwrap_or_else(|| die(&format!("no target `{name}`; targets: {}", names())))],
        None => targets::all(),
    };

    if let Some(file) = replay {
        let [target] = &chosen[..] else { die("--replay needs --target") };
        let input = std::fs::read(&file).unwrap_or_else(|e| die(&format!("{}: {e}", file.display())));
        return match engine::run_one(target, &input, &mut Feedback::default()) {
            Ok(()) => {
                println!("{}: {} runs clean", target.name, file.display());
                ExitCode::SUCCESS
            }
            Err(panic) => {
                println!("{}: {} crashes: {panic}", target.name, file.display());
                ExitCode::FAILURE
            }
        };
    }

    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
    let crash_dir = crashes.unwrap_or_else(|| target_dir.join("fuzz-crashes"));
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    println!("taylordash-fuzz: {} s per target, seed {seed}, crashes under {}", time, crash_dir.display());
    println!("{:<12} {:>12} {:>10} {:>9} {:>7} {:>8} {:>9}", "target", "execs", "execs/s", "crashes", "unique", "corpus", "features");
    let mut any_crash = false;
    for (i, target) in chosen.iter().enumerate() {
        let opts = Options {
            time: Duration::from_secs(time),
            max_execs: None,
            seed: seed.wrapping_add(i as u64),
            corpus_dir: workspace_root().join("fuzz/corpus"),
            crash_dir: Some(crash_dir.clone()),
            hang: Duration::from_secs(hang),
            verbose: true,
        };
        let stats = engine::fuzz(target, &opts);
        println!(
            "{:<12} {:>12} {:>10.0} {:>9} {:>7} {:>8} {:>9}",
            target.name,
            stats.execs,
            stats.execs_per_sec(),
            stats.crashes,
            stats.unique.len(),
            stats.corpus,
            stats.features
        );
        for (panic, saved) in &stats.unique {
            println!("    crash: {panic}{}", saved.as_ref().map(|p| format!("  [{}]", p.display())).unwrap_or_default());
        }
        any_crash |= stats.crashes > 0;
    }
    if any_crash { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn names() -> String {
    targets::all().iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

fn die(message: &str) -> ! {
    eprintln!("taylordash-fuzz: {message}\n{USAGE}");
    std::process::exit(2);
}
