fn main() {
    std::process::exit(taylordash::cli::main());
}
