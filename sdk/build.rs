//! `cargo xtask build-plugins` generates every tool's `describe` schemas
//! natively first and names their folder in `TAYLORDASH_SCHEMAS`; a component
//! built then embeds them as text (`export_tool!`) instead of linking schemars.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(taylordash_baked_schemas)");
    println!("cargo::rerun-if-env-changed=TAYLORDASH_SCHEMAS");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if wasm && std::env::var_os("TAYLORDASH_SCHEMAS").is_some_and(|dir| !dir.is_empty()) {
        println!("cargo::rustc-cfg=taylordash_baked_schemas");
    }
}
