//! The sandbox: loads agent tools as WebAssembly components and calls them
//! under quotas and deny-by-default capabilities.
//!
//! One [`Sandbox`] owns the engine (fuel, epochs, pooling allocator), the
//! linker (WASI p2 plus our `host` and `exec` imports) and the compiled-
//! component cache. Loading a [`Plugin`] checks its size and its imports and
//! exports (`world.rs`), compiles it under the compile budget (`compile.rs`)
//! or deserializes it, and pre-links it once; every call then gets a fresh `Store` and instantiates
//! from that `InstancePre`, so a call does no linking and no call can see
//! another's state.

mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "tool",
        imports: { default: trappable },
    });
}

pub mod cache;
pub mod capabilities;
pub mod compile;
pub mod engine;
pub mod error;
pub mod escape;
pub mod confine;
pub mod exec;
pub mod host_imports;
pub mod http;
pub mod isolate;
mod invoke;
pub mod out_quota;
pub mod producers;
pub mod quotas;
pub mod staging;
pub mod world;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::catalog::plugin_name;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

pub use cache::ComponentCache;
pub use compile::{BudgetBreach, CompileBudget};
pub use capabilities::{Denial, ExecGrant, Grants, HttpGrant};
pub use error::{SandboxError, ToolFailure};
pub use host_imports::{CallState, Event, LogLine};
pub use invoke::{Call, CallContext, CallOutcome, TaskOutcome, WarmInstance};
pub use quotas::{QuotaBreach, QuotaKind, Quotas};

/// What `describe` told us about a tool.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub input_schema: String,
    pub output_schema: String,
}

/// How to build a [`Sandbox`].
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Where compiled components are cached; `None` compiles on every start.
    pub cache_dir: Option<PathBuf>,
    /// Largest plugin file, and the memory and time compiling one may take.
    pub compile_budget: CompileBudget,
    /// The `taylordash` binary to compile in (as `taylordash __compile`,
    /// under the budget's memory and time limits). `None` compiles in this
    /// process with no memory or time limit (the size limit and the import
    /// check still apply): fine for trusted plugins and tests, while the CLI
    /// sets `std::env::current_exe()`.
    pub compiler: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions { cache_dir: ComponentCache::default_dir(), compile_budget: CompileBudget::default(), compiler: None }
    }
}

/// The engine, linker and cache every plugin shares.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<CallState>,
    cache: ComponentCache,
    budget: CompileBudget,
    compiler: Option<PathBuf>,
    _ticker: engine::EpochTicker,
}

/// A loaded, pre-linked plugin: ready to be called any number of times.
pub struct Plugin {
    /// The file's stem: how pipelines and the CLI name it.
    pub name: String,
    pub path: PathBuf,
    /// Hex sha256 of the file.
    pub sha256: String,
    pub size: u64,
    /// Whether the compiled code came from the cache.
    pub from_cache: bool,
    component: Component,
    pre: bindings::ToolPre<CallState>,
}

impl Plugin {
    /// The component's imports and exports, as `name` lists.
    pub fn interface(&self, engine: &Engine) -> (Vec<String>, Vec<String>) {
        let ty = self.component.component_type();
        let imports = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let exports = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        (imports, exports)
    }
}

impl Sandbox {
    pub fn new(options: SandboxOptions) -> Result<Self, SandboxError> {
        let host = |what: &str, e: &dyn std::fmt::Display| SandboxError::Host(format!("{what}: {e}"));
        let engine = engine::build_engine().map_err(|e| host("engine", &e))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| host("linking WASI", &e))?;
        out_quota::add_to_linker(&mut linker).map_err(|e| host("linking the /out quotas", &e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker).map_err(|e| host("linking wasi:http", &e))?;
        bindings::Tool::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| host("linking the host imports", &e))?;
        let cache = ComponentCache::new(&engine, options.cache_dir);
        let ticker = engine::EpochTicker::start(&engine).map_err(|e| host("epoch thread", &e))?;
        Ok(Sandbox { engine, linker, cache, budget: options.compile_budget, compiler: options.compiler, _ticker: ticker })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Load the component at `path`: read (at most the budget's size), check,
    /// hash, compile or deserialize, pre-link.
    pub fn load(&self, path: &Path) -> Result<Plugin, SandboxError> {
        let bytes = self.read(path)?;
        self.load_bytes(path, &bytes)
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>, SandboxError> {
        compile::read_bounded(path, self.budget.max_size)
            .map_err(|source| SandboxError::Read { path: path.to_path_buf(), source })?
            .ok_or_else(|| SandboxError::CompileBudget {
                plugin: plugin_name(path),
                breach: BudgetBreach::Size(self.budget.max_size),
            })
    }

    /// Load the component at `path` if `admit(name, sha256)` agrees: the
    /// check (pinned digest, signature) runs before anything is compiled.
    pub fn load_checked(
        &self,
        path: &Path,
        admit: impl FnOnce(&str, &str) -> Result<(), SandboxError>,
    ) -> Result<Plugin, SandboxError> {
        let bytes = self.read(path)?;
        admit(&plugin_name(path), &hex::encode(Sha256::digest(&bytes)))?;
        self.load_bytes(path, &bytes)
    }

    /// Load a component already read from `path`.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<Plugin, SandboxError> {
        let name = plugin_name(path);
        if bytes.len() as u64 > self.budget.max_size {
            return Err(SandboxError::CompileBudget { plugin: name, breach: BudgetBreach::Size(self.budget.max_size) });
        }
        world::check(bytes).map_err(|e| match e {
            world::WorldError::UnsupportedImport(import) => SandboxError::UnsupportedImport { plugin: name.clone(), import },
            other => SandboxError::Invalid { path: path.to_path_buf(), message: other.to_string() },
        })?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, from_cache) = match self.cache.lookup(&self.engine, &sha256) {
            Some(component) => (component, true),
            None => {
                let (component, artifact) =
                    compile::compile(&self.engine, self.compiler.as_deref(), &self.budget, bytes).map_err(|e| match e {
                        compile::CompileError::Budget(breach) => SandboxError::CompileBudget { plugin: name.clone(), breach },
                        compile::CompileError::Invalid(message) => SandboxError::Invalid { path: path.to_path_buf(), message },
                        compile::CompileError::Crashed(message) => SandboxError::CompilerCrashed { plugin: name.clone(), message },
                        compile::CompileError::Host(message) => SandboxError::Host(message),
                    })?;
                self.cache.store(&sha256, &component, artifact.as_deref());
                // Run from the cached file when there is one: its code is
                // then mapped from the file (shared with every process that
                // loads the plugin, and reclaimable), not a private copy that
                // stays in a long-lived `mcp` or `worker` (31 plugins compiled
                // at start: 86 MiB anonymous memory, against 10 MiB mapped).
                let component = self.cache.lookup(&self.engine, &sha256).unwrap_or(component);
                (component, false)
            }
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            let message = format!("{e:#}");
            match unsupported_import(&message) {
                Some(import) => SandboxError::UnsupportedImport { plugin: name.clone(), import },
                None => SandboxError::Invalid { path: path.to_path_buf(), message },
            }
        })?;
        let pre = bindings::ToolPre::new(instance_pre).map_err(|e| SandboxError::Invalid {
            path: path.to_path_buf(),
            message: format!("does not export the taylordash:agent `tool` world: {e:#}"),
        })?;
        Ok(Plugin { name, path: path.to_path_buf(), sha256, size: bytes.len() as u64, from_cache, component, pre })
    }
}

/// The import named in a linker error such as wasmtime 48's "component
/// imports instance `wasi:http/types@0.2.0`, but a matching implementation
/// was not found in the linker" (before 48: "component imported …").
fn unsupported_import(message: &str) -> Option<String> {
    let rest = message.split("component imports ").nth(1).or_else(|| message.split("component imported ").nth(1))?;
    if !message.contains("not found in the linker") {
        return None;
    }
    let start = rest.find('`')?;
    let end = rest[start + 1..].find('`')?;
    Some(rest[start..start + end + 2].to_string())
}

/// Find a plugin named by tool name (looked up in `dir`) or by path.
pub fn resolve_plugin(spec: &str, dir: &Path) -> Result<PathBuf, SandboxError> {
    crate::catalog::find_plugin(spec, dir)
        .ok_or_else(|| SandboxError::NotFound { name: spec.to_string(), dir: dir.to_path_buf() })
}
