//! Validation is linear in pipeline size: a generated pipeline of 1,000 and
//! of 10,000 stages (each with an agent, tools, rbac, inputs, outputs),
//! parsed and fully validated. The summary prints the time per stage at both
//! sizes; linear means the two are about equal.

use std::time::{Duration, Instant};

use criterion::Criterion;
use taylordash::pipeline::{self, Context};

fn generate(stages: usize) -> String {
    let mut y = String::from("orchestration_flow:\n  entry: \"bench\"\n  policies: { add_only: true }\n  stages:\n");
    for i in 0..stages {
        let input = if i == 0 { "backlog".to_string() } else { format!("artifact_{}", i - 1) };
        y.push_str(&format!(
            "    - stage: \"s{i}\"\n      agent: \"agent_{i}\"\n      tools: [\"planner\", \"echo\"]\n      rbac: [\"admin\", \"maintainer\"]\n      inputs: [\"{input}\"]\n      outputs: [\"artifact_{i}\"]\n      timeout: 30s\n"
        ));
    }
    y
}

fn validate(text: &str, cx: &Context) {
    let p = pipeline::parse("bench.yaml", text, cx).unwrap_or_else(|d| panic!("{d}"));
    assert!(!p.stages.is_empty());
}

fn main() {
    let tools = ["planner", "echo"].iter().map(|s| s.to_string()).collect();
    let cx = Context { tools: Some((tools, "plugins".into())), roles: Vec::new() };
    let small = generate(1_000);
    let large = generate(10_000);
    let mut c = Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(5));
    c.bench_function("validate 1,000 stages", |b| b.iter(|| validate(&small, &cx)));
    c.bench_function("validate 10,000 stages", |b| b.iter(|| validate(&large, &cx)));
    let time = |text: &str| {
        let runs = 5;
        let t = Instant::now();
        for _ in 0..runs {
            validate(text, &cx);
        }
        t.elapsed() / runs
    };
    let (t1, t10) = (time(&small), time(&large));
    println!("\nsummary: 1,000 stages {t1:?} ({} bytes), 10,000 stages {t10:?} ({} bytes)", small.len(), large.len());
    println!("per stage: {:?} vs {:?}; ratio 10k/1k = {:.2}x (10.00x is linear)", t1 / 1_000, t10 / 10_000, t10.as_secs_f64() / t1.as_secs_f64());
    println!("target: 10,000 stages well under 1 s");
    c.final_summary();
}
