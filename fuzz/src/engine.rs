//! The time-bounded mutation loop (see the crate's doc for why this and not
//! libFuzzer): corpus + mutations + `proptest` generation, novelty feedback,
//! `catch_unwind`, crash files, and a watchdog for hangs.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    /// Run one input. A panic (including a violated property) is a crash.
    pub run: fn(&[u8], &mut Feedback),
    /// Structure-aware inputs from `proptest` strategies, encoded as the
    /// bytes `run` reads.
    pub generate: Option<fn(&mut TestRunner) -> Vec<u8>>,
    /// Seeds made in code (besides `fuzz/corpus/<name>/`).
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens worth inserting (keywords, punctuation of the format).
    pub dictionary: &'static [&'static str],
    /// Inputs are cut to this many bytes.
    pub max_len: usize,
}

/// What a run of one input showed, for novelty: hashes of features.
#[derive(Default)]
pub struct Feedback(Vec<u64>);

impl Feedback {
    pub fn note(&mut self, feature: impl Hash) {
        let mut h = DefaultHasher::new();
        feature.hash(&mut h);
        self.0.push(h.finish());
    }

    /// A diagnostic's shape: digits and quoted or back-quoted text removed,
    /// so `a.yaml:3:5: unknown field `x`` and `…:9:1: unknown field `y``
    /// are one feature.
    pub fn note_message(&mut self, message: &str) {
        // Leading `file:line:col:` and `a.b[0].c:` prefixes name where, not
        // what; the first words after them say what went wrong, and the tail
        // (suggestions, lists of what is allowed, echoed input) would make
        // every message new.
        let mut m = message;
        while let Some((prefix, rest)) = m.split_once(": ") {
            if prefix.contains(char::is_whitespace) {
                break;
            }
            m = rest;
        }
        self.note(shape(m).chars().take(64).collect::<String>());
    }
}

pub fn shape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '"' => {
                quote = Some(c);
                out.push('_');
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            None => out.push(c),
        }
    }
    out
}

pub struct Options {
    /// How long to fuzz the target.
    pub time: Duration,
    /// Stop after this many executions (tests).
    pub max_execs: Option<u64>,
    pub seed: u64,
    /// Where the committed seeds are (`fuzz/corpus`).
    pub corpus_dir: PathBuf,
    /// Where crashing inputs go (`<dir>/<target>/`); `None`: not saved.
    pub crash_dir: Option<PathBuf>,
    /// An input running longer than this is a hang: saved, and the process exits.
    pub hang: Duration,
    /// Print each new unique crash as it is found.
    pub verbose: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub execs: u64,
    pub elapsed: Duration,
    /// Executions that panicked.
    pub crashes: u64,
    /// Distinct panics (by message shape and location), with one saved file each.
    pub unique: BTreeMap<String, Option<PathBuf>>,
    pub corpus: usize,
    pub features: usize,
}

impl Stats {
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

thread_local! {
    static FUZZING: RefCell<bool> = const { RefCell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic hook that records (instead of printing) panics of fuzzed inputs
/// and leaves every other thread's panics to the previous hook.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(|f| *f.borrow()) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string panic)".into());
                let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{at}: {message}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Run one input under `catch_unwind`; `Err(panic message with location)`.
pub fn run_one(target: &Target, input: &[u8], feedback: &mut Feedback) -> Result<(), String> {
    install_hook();
    FUZZING.with(|f| *f.borrow_mut() = true);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input, feedback)));
    FUZZING.with(|f| *f.borrow_mut() = false);
    result.map_err(|_| LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panic".into()))
}

/// xorshift64*: the mutator's randomness (proptest's own RNG drives generation).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING_BYTES: &[u8] = b"\0\xff\x7f\x80\n\r\t :-\"'{}[],&*#!|>%@`\\/.0";
const INTERESTING_NUMBERS: &[&str] = &[
    "0", "-1", "1", "-0", "255", "65536", "4294967295", "4294967296", "9223372036854775807",
    "18446744073709551615", "18446744073709551616", "1e309", "-1e309", "1.5", "0.1", "1e-400", "NaN", ".inf",
];

/// One to eight stacked mutations of `input`.
pub fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], dictionary: &[&str], max_len: usize) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        mutate_once(rng, &mut data, corpus, dictionary);
    }
    data.truncate(max_len);
    data
}

fn line_bounds(data: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            lines.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < data.len() {
        lines.push((start, data.len()));
    }
    lines
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], dictionary: &[&str]) {
    let len = data.len();
    let pos = |rng: &mut Rng| rng.below(len + 1);
    match rng.below(15) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
        }
        2 => {
            let i = pos(rng);
            data.insert(i, INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(16));
            data.drain(i..i + n);
        }
        4 | 5 if !dictionary.is_empty() => {
            let token = dictionary[rng.below(dictionary.len())].as_bytes();
            let i = pos(rng);
            data.splice(i..i, token.iter().copied());
        }
        6 if len > 0 => {
            // duplicate a chunk elsewhere
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let chunk = data[i..i + n].to_vec();
            let j = pos(rng);
            data.splice(j..j, chunk);
        }
        7 if !corpus.is_empty() => {
            // splice in a chunk of another corpus entry
            let other = &corpus[rng.below(corpus.len())];
            if !other.is_empty() {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(256));
                let j = pos(rng);
                let cut = if rng.chance(2) { (len - j).min(n) } else { 0 };
                data.splice(j..j + cut, other[i..i + n].iter().copied());
            }
        }
        8 | 9 => {
            // line operations
            let lines = line_bounds(data);
            if lines.is_empty() {
                return;
            }
            let (s, e) = lines[rng.below(lines.len())];
            match rng.below(5) {
                0 => {
                    data.drain(s..e);
                }
                1 => {
                    let line = data[s..e].to_vec();
                    data.splice(s..s, line);
                }
                2 => {
                    let (s2, e2) = lines[rng.below(lines.len())];
                    if s2 > e {
                        let (a, b) = (data[s..e].to_vec(), data[s2..e2].to_vec());
                        data.splice(s2..e2, a);
                        data.splice(s..e, b);
                    }
                }
                3 => {
                    if rng.chance(2) {
                        data.splice(s..s, *b"  ");
                    } else if data[s..e].starts_with(b"  ") {
                        data.drain(s..s + 2);
                    }
                }
                _ => {
                    if !corpus.is_empty() {
                        let other = &corpus[rng.below(corpus.len())];
                        let olines = line_bounds(other);
                        if !olines.is_empty() {
                            let (os, oe) = olines[rng.below(olines.len())];
                            data.splice(s..s, other[os..oe].iter().copied());
                        }
                    }
                }
            }
        }
        10 => {
            // replace a run of digits with an interesting number
            let digits: Vec<usize> = (0..len).filter(|&i| data[i].is_ascii_digit()).collect();
            let number = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())].as_bytes();
            if digits.is_empty() {
                let i = pos(rng);
                data.splice(i..i, number.iter().copied());
            } else {
                let s = digits[rng.below(digits.len())];
                let mut e = s;
                while e < len && (data[e].is_ascii_digit() || data[e] == b'.') {
                    e += 1;
                }
                data.splice(s..e, number.iter().copied());
            }
        }
        11 if len > 1 => {
            let n = rng.below(len);
            data.truncate(n);
        }
        12 if len > 0 => {
            // a random byte, anywhere (UTF-8 breakage included)
            let i = rng.below(len);
            data[i] = rng.next() as u8;
        }
        13 if len > 0 => {
            // repeat a short chunk many times (depth, long lines)
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(8));
            let chunk = data[i..i + n].to_vec();
            let times = 2 + rng.below(64);
            let j = pos(rng);
            data.splice(j..j, chunk.iter().copied().cycle().take(n * times));
        }
        _ => {
            if let Some(&c) = dictionary.get(rng.below(dictionary.len().max(1))) {
                let i = pos(rng);
                let mut token = c.as_bytes().to_vec();
                token.push(b'\n');
                data.splice(i..i, token);
            }
        }
    }
}

/// The committed seeds of `target`, then its seeds made in code.
pub fn load_corpus(target: &Target, corpus_dir: &Path) -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    if let Ok(entries) = std::fs::read_dir(corpus_dir.join(target.name)) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        for p in paths {
            if let Ok(bytes) = std::fs::read(&p) {
                corpus.push(bytes);
            }
        }
    }
    corpus.extend((target.seeds)());
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    corpus
}

const MAX_CORPUS: usize = 4096;

/// Fuzz `target` within `opts`; returns what happened.
pub fn fuzz(target: &Target, opts: &Options) -> Stats {
    let mut corpus = load_corpus(target, &opts.corpus_dir);
    let seeds = corpus.len().min(MAX_CORPUS / 2);
    let mut rng = Rng::new(opts.seed);
    let mut seed32 = [0u8; 32];
    for chunk in seed32.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes());
    }
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &seed32));
    let mut seen: HashSet<u64> = HashSet::new();
    let mut stats = Stats::default();

    // The watchdog: an input running past `hang` is saved and the process stops.
    let current = Arc::new(Mutex::new(Vec::<u8>::new()));
    let started_at = Instant::now();
    let running_since = Arc::new(AtomicU64::new(0)); // ms since `started_at` + 1; 0 = idle
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (current, running_since, done) = (current.clone(), running_since.clone(), done.clone());
        let (hang, name, crash_dir) = (opts.hang, target.name, opts.crash_dir.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let since = running_since.load(Ordering::Relaxed);
                if since == 0 {
                    continue;
                }
                let now = started_at.elapsed().as_millis() as u64 + 1;
                if now.saturating_sub(since) > hang.as_millis() as u64 {
                    let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                    let saved = crash_dir.as_ref().and_then(|d| save(&d.join(name), "hang", &input));
                    eprintln!(
                        "{name}: HANG: an input ran longer than {hang:?}{}",
                        saved.map(|p| format!("; saved as {}", p.display())).unwrap_or_default()
                    );
                    std::process::exit(3);
                }
            }
        })
    };

    let start = Instant::now();
    let mut i = 0usize;
    loop {
        if stats.execs & 15 == 0 && start.elapsed() >= opts.time {
            break;
        }
        if opts.max_execs.is_some_and(|m| stats.execs >= m) {
            break;
        }
        // Seeds first, as they are; then mutations and generated inputs.
        let input = if i < corpus.len() && stats.execs < corpus.len() as u64 {
            corpus[i].clone()
        } else if let Some(generate) = target.generate.filter(|_| rng.chance(3)) {
            let mut g = generate(&mut runner);
            if rng.chance(4) {
                g = mutate(&mut rng, &g, &corpus, target.dictionary, target.max_len);
            }
            g
        } else {
            let base = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, base, &corpus, target.dictionary, target.max_len)
        };
        i += 1;
        if let Ok(mut c) = current.lock() {
            c.clear();
            c.extend_from_slice(&input);
        }
        running_since.store(started_at.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        let mut feedback = Feedback::default();
        let outcome = run_one(target, &input, &mut feedback);
        running_since.store(0, Ordering::Relaxed);
        stats.execs += 1;
        match outcome {
            Ok(()) => {
                let mut novel = false;
                for f in feedback.0 {
                    novel |= seen.insert(f);
                }
                if novel {
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(input);
                    } else {
                        // Full: the newcomer replaces a random entry past the seeds.
                        let i = seeds + rng.below(corpus.len() - seeds);
                        corpus[i] = input;
                    }
                }
            }
            Err(message) => {
                stats.crashes += 1;
                // One crash per panic site and first line (assertion values vary).
                let key = shape(message.lines().next().unwrap_or(""));
                if !stats.unique.contains_key(&key) {
                    let saved = opts.crash_dir.as_ref().and_then(|d| save(&d.join(target.name), "crash", &input));
                    if opts.verbose {
                        eprintln!(
                            "{}: CRASH {message}{}",
                            target.name,
                            saved.as_ref().map(|p| format!("\n    saved as {}", p.display())).unwrap_or_default()
                        );
                    }
                    stats.unique.insert(key, saved);
                }
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    stats.elapsed = start.elapsed();
    stats.corpus = corpus.len();
    stats.features = seen.len();
    stats
}

/// Save `input` as `<dir>/<kind>-<sha256 prefix>`.
fn save(dir: &Path, kind: &str, input: &[u8]) -> Option<PathBuf> {
    use sha2::Digest;
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{kind}-{}", &hex::encode(sha2::Sha256::digest(input))[..16]));
    std::fs::write(&path, input).ok()?;
    Some(path)
}
