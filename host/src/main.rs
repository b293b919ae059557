fn main() {
    // The budgeted compiler child (sandbox/compile.rs) is dispatched before
    // the CLI is parsed: it takes no options, and none of the operator's
    // environment may change what it does.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(taylordash::sandbox::compile::SUBCOMMAND)) {
        let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
        std::process::exit(taylordash::sandbox::compile::child_main(&rest));
    }
    std::process::exit(taylordash::cli::main());
}
