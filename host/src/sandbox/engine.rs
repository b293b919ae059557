//! The one wasmtime `Engine` every plugin runs on, and the epoch ticker that
//! gives wall-clock timeouts their teeth.
//!
//! Fuel, epoch interruption and the pooling allocator are always on: a store
//! per call is cheap only when instance slots and memories are recycled, and
//! `linear_memory_keep_resident` + `pagemap_scan` keep that recycling from
//! touching the kernel more than it must.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::quotas::{MAX_MEMORY, WASM_STACK};

/// How often the epoch advances; a timeout is rounded up to whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Concurrent calls the pool has slots for.
pub const POOL_SLOTS: u32 = 64;

/// Build the engine. Every plugin and every cached artifact is tied to this
/// configuration: change it and the cache keys change with it.
pub fn build_engine() -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_SLOTS)
        .total_core_instances(POOL_SLOTS * 8)
        .total_memories(POOL_SLOTS * 2)
        .total_tables(POOL_SLOTS * 8)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(16)
        .max_memory_size(MAX_MEMORY as usize)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(1 << 16)
        .pagemap_scan(Enabled::Auto);

    let mut config = compile_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Everything of the configuration that shapes compiled code. The budgeted
/// compiler (`compile.rs`) builds its engine from this alone: it never
/// instantiates, so it needs no pool (whose reservations would not fit its
/// address-space limit), and the allocation strategy is not part of
/// `precompile_compatibility_hash`, so its artifacts load in [`build_engine`]'s.
pub fn compile_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(WASM_STACK);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("taylordash-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(EpochTicker { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
