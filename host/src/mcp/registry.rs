//! The plugins the gateway serves: loaded (compiled through the cache),
//! admitted by the policy's digest pins and signatures, described once, and
//! kept in step with the plugins directory while the server runs.
//!
//! Operators drop `.wasm` files into the directory; a watcher thread polls
//! it and reloads what appeared or changed, forgets what left, and tells the
//! sessions the list changed. A file is loaded once it has kept its size and
//! time over two polls, so a copy still being written is not read half-way.
//! A refused plugin is audited once per version of its file and not listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::schema;
use crate::audit::{AuditLog, Subject, call_events};
use crate::catalog;
use crate::policy::Policy;
use crate::sandbox::{Plugin, Sandbox, SandboxError, ToolInfo};

/// How often the watcher looks at the plugins directory.
pub const POLL: Duration = Duration::from_millis(400);

/// What identifies one version of a file without reading it.
type Fingerprint = (u64, Option<SystemTime>);

/// One plugin, ready to call.
pub struct Entry {
    pub plugin: Arc<Plugin>,
    pub info: ToolInfo,
    pub input_schema: Arc<Map<String, Value>>,
    pub output_schema: Option<Arc<Map<String, Value>>>,
    fingerprint: Fingerprint,
}

/// The served plugins by tool name.
pub struct Registry {
    dir: PathBuf,
    entries: RwLock<BTreeMap<String, Arc<Entry>>>,
    /// Files refused (or unreadable) in this version: not tried again until they change.
    refused: RwLock<BTreeMap<String, Fingerprint>>,
    changed: broadcast::Sender<()>,
}

impl Registry {
    pub fn new(dir: PathBuf) -> Self {
        Registry {
            dir,
            entries: RwLock::new(BTreeMap::new()),
            refused: RwLock::new(BTreeMap::new()),
            changed: broadcast::channel(16).0,
        }
    }

    /// Every served plugin, by name.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries.read().map(|e| e.values().cloned().collect()).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries.read().ok()?.get(name).cloned()
    }

    /// A receiver that gets `()` each time the list changes.
    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.changed.subscribe()
    }

    /// Bring the list in step with the directory: files present now and at
    /// `settled` (the previous look) with the same fingerprint are loaded
    /// when new or changed; names whose file left are dropped. Returns
    /// whether the served list changed (and tells the subscribers).
    pub fn refresh(
        &self,
        sandbox: &Sandbox,
        policy: Option<&Policy>,
        audit: &AuditLog,
        settled: Option<&BTreeMap<String, Fingerprint>>,
    ) -> BTreeMap<String, Fingerprint> {
        let now = scan(&self.dir);
        let mut changed = false;
        for (name, fingerprint) in &now {
            if settled.is_some_and(|s| s.get(name) != Some(fingerprint)) {
                continue; // still being written, or just appeared: next look
            }
            let current = self.get(name).map(|e| e.fingerprint);
            let refused = self.refused.read().ok().and_then(|r| r.get(name).copied());
            if current == Some(*fingerprint) || refused == Some(*fingerprint) {
                continue;
            }
            let path = self.dir.join(format!("{name}.wasm"));
            match load(sandbox, policy, &path) {
                Ok((plugin, info)) => {
                    let entry = Entry {
                        input_schema: Arc::new(schema::input_schema(&info.input_schema)),
                        output_schema: schema::output_schema(&info.output_schema).map(Arc::new),
                        plugin: Arc::new(plugin),
                        info,
                        fingerprint: *fingerprint,
                    };
                    tracing::info!(plugin = %name, "serving");
                    if let Ok(mut r) = self.refused.write() {
                        r.remove(name);
                    }
                    if let Ok(mut e) = self.entries.write() {
                        e.insert(name.clone(), Arc::new(entry));
                    }
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(plugin = %name, error = %e, "not served");
                    let subject = Subject { plugin: name.clone(), ..Subject::default() };
                    let mut events = call_events(&subject, Err(&e));
                    if events.is_empty() {
                        events.push(subject.event("load", "deny", e.to_string()));
                    }
                    audit.append(&events);
                    if let Ok(mut r) = self.refused.write() {
                        r.insert(name.clone(), *fingerprint);
                    }
                    if let Ok(mut entries) = self.entries.write() {
                        changed |= entries.remove(name).is_some();
                    }
                }
            }
        }
        if let Ok(mut entries) = self.entries.write() {
            let before = entries.len();
            entries.retain(|name, _| now.contains_key(name));
            changed |= entries.len() != before;
        }
        if let Ok(mut r) = self.refused.write() {
            r.retain(|name, _| now.contains_key(name));
        }
        if changed {
            let _ = self.changed.send(());
        }
        now
    }

    /// Poll the directory on a thread of its own for as long as the process runs.
    pub fn watch(self: &Arc<Self>, sandbox: Arc<Sandbox>, policy: Option<Arc<Policy>>, audit: AuditLog) {
        let registry = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("mcp-plugins-watch".into()).spawn(move || {
            let mut settled = scan(&registry.dir);
            loop {
                std::thread::sleep(POLL);
                settled = registry.refresh(&sandbox, policy.as_deref(), &audit, Some(&settled));
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot watch the plugins directory; the tool list will not follow it");
        }
    }
}

/// The `.wasm` files of `dir` with their fingerprints.
fn scan(dir: &Path) -> BTreeMap<String, Fingerprint> {
    catalog::list_plugins(dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some((catalog::plugin_name(&path), (meta.len(), meta.modified().ok())))
        })
        .collect()
}

fn load(sandbox: &Sandbox, policy: Option<&Policy>, path: &Path) -> Result<(Plugin, ToolInfo), SandboxError> {
    let plugin = sandbox.load_checked(path, |name, sha| Ok(crate::policy::admit(policy, path, name, sha)?))?;
    let info = sandbox.describe(&plugin)?;
    Ok((plugin, info))
}
