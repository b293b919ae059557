//! `adversary`: a plugin that attacks the sandbox. Its input names one attack;
//! it reports what it managed to do, so a host test can assert that every
//! attack was contained (and would notice if one stopped being contained).

use std::hint::black_box;

use serde::Deserialize;
use serde_json::{Value, json};
use taylordash_sdk::{Context, JsonSchema, Level, Tool, ToolError, exec, export_tool, log};

pub struct Adversary;

#[derive(Deserialize, JsonSchema)]
pub struct Attack {
    /// Which attack to run.
    pub attack: String,
    /// A TCP port, for `tcp_connect`.
    #[serde(default)]
    pub port: u16,
    /// A count, for attacks that repeat.
    #[serde(default)]
    pub n: u64,
    /// A URL, for `http_get`.
    #[serde(default)]
    pub url: String,
    /// A program and its arguments, for `exec`.
    #[serde(default)]
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(format!("{what}: {e}"))
}

fn read(path: &str) -> Result<Value, ToolError> {
    let text = std::fs::read_to_string(path).map_err(|e| failed(path, e))?;
    Ok(json!({ "leaked": text }))
}

/// Create a symlink through wasi-libc (std has no stable wasi symlink).
fn symlink(target: &std::ffi::CStr, link: &std::ffi::CStr) -> Result<(), i32> {
    unsafe extern "C" {
        fn symlink(target: *const std::ffi::c_char, link: *const std::ffi::c_char) -> i32;
    }
    // SAFETY: both pointers come from `CStr`s, NUL-terminated and alive for
    // the whole call; wasi-libc's `symlink` only reads them.
    match unsafe { symlink(target.as_ptr(), link.as_ptr()) } {
        0 => Ok(()),
        rc => Err(rc),
    }
}

/// GET `url` through wasi:http; returns the status and body.
#[cfg(target_arch = "wasm32")]
fn http_get(url: &str) -> Result<Value, String> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, OutgoingBody, OutgoingRequest, Scheme};
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&if scheme == "https" { Scheme::Https } else { Scheme::Http })).map_err(|_| "scheme")?;
    req.set_authority(Some(authority)).map_err(|_| "authority")?;
    req.set_path_with_query(Some(if path.is_empty() { "/" } else { path })).map_err(|_| "path")?;
    let body = req.body().map_err(|_| "body")?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    let pending = outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let resp = pending.get().ok_or("no response")?.map_err(|_| "taken")?.map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let incoming = resp.consume().map_err(|_| "consume")?;
    let stream = incoming.stream().map_err(|_| "stream")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(wasi::io::streams::StreamError::Closed) => break,
            Err(wasi::io::streams::StreamError::LastOperationFailed(e)) => {
                return Err(format!("reading the body: {}", e.to_debug_string()));
            }
        }
    }
    Ok(json!({ "status": status, "body": String::from_utf8_lossy(&bytes) }))
}

#[cfg(not(target_arch = "wasm32"))]
fn http_get(_url: &str) -> Result<Value, String> {
    Err("http_get runs only inside the sandbox".into())
}

/// Recursion that lives on the wasm stack (no locals in linear memory).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    // An opaque function pointer: LLVM can turn neither the call into a loop.
    let next: fn(u64) -> u64 = black_box(recurse);
    next(depth + 1).wrapping_mul(depth | 1)
}

impl Tool for Adversary {
    const NAME: &'static str = "adversary";
    const DESCRIPTION: &'static str = "Attacks the sandbox, one attack per call.";
    type Input = Attack;
    type Output = Value;

    fn run(input: Attack, _cx: &Context) -> Result<Value, ToolError> {
        match input.attack.as_str() {
            "read_passwd" => read("/etc/passwd"),
            "escape_dotdot" => read("/workspace/../../../../../../etc/passwd"),
            "escape_out_dotdot" => read("/out/../../../../../../etc/passwd"),
            "symlink_escape" => {
                let made = symlink(c"../../../../../../etc/passwd", c"/out/evil");
                let through = std::fs::read_to_string("/out/evil");
                Ok(json!({
                    "symlink_created": made.is_ok(),
                    "leaked": through.ok(),
                }))
            }
            "symlink_absolute" => {
                let made = symlink(c"/etc/passwd", c"/out/abs");
                Ok(json!({ "symlink_created": made.is_ok() }))
            }
            "write_workspace" => {
                std::fs::write("/workspace/pwned.txt", "pwned").map_err(|e| failed("/workspace/pwned.txt", e))?;
                Ok(json!({ "wrote": true }))
            }
            "write_out" => {
                std::fs::create_dir_all("/out/sub").map_err(|e| failed("/out/sub", e))?;
                std::fs::write("/out/sub/result.txt", "result").map_err(|e| failed("/out/sub/result.txt", e))?;
                Ok(json!({ "wrote": ["sub/result.txt"] }))
            }
            "alloc_2gib" => {
                // In 64 MiB steps: one 2 GiB `Vec` is over wasm32's isize::MAX.
                let chunks: Vec<Vec<u8>> = (0..32).map(|_| vec![1u8; 64 << 20]).collect();
                Ok(json!({ "allocated": black_box(&chunks).iter().map(Vec::len).sum::<usize>() }))
            }
            "loop_forever" => {
                let mut x = 0u64;
                loop {
                    x = black_box(x.wrapping_add(1));
                }
            }
            "recurse" => Ok(json!({ "depth": recurse(0) })),
            "huge_output" => Ok(Value::String("x".repeat(200 << 20))),
            "log_flood" => {
                for i in 0..10_000_000u64 {
                    log(Level::Info, black_box("x"));
                    black_box(i);
                }
                Ok(json!({ "logged": 10_000_000 }))
            }
            "log_big" => {
                let line = "y".repeat(64 << 10);
                for _ in 0..input.n.max(1) {
                    log(Level::Info, &line);
                }
                Ok(json!({ "logged": input.n }))
            }
            "read_env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                Ok(json!({ "vars": vars }))
            }
            "tcp_connect" => {
                let addr = format!("127.0.0.1:{}", input.port);
                let stream = std::net::TcpStream::connect(&addr).map_err(|e| failed(&addr, e))?;
                Ok(json!({ "connected": stream.peer_addr().map(|a| a.to_string()).ok() }))
            }
            "exec_ungranted" => {
                let out = exec::run(&exec::Command { program: "sh".into(), args: vec!["-c".into(), "id".into()], stdin: None })
                    .map_err(ToolError::Failed)?;
                Ok(json!({ "stdout": out.stdout }))
            }
            "exec" => {
                let cmd = exec::Command { program: input.program.clone(), args: input.args.clone(), stdin: None };
                let out = exec::run(&cmd).map_err(ToolError::Failed)?;
                Ok(json!({ "status": out.status, "stdout": out.stdout, "stderr": out.stderr }))
            }
            "http_get" => http_get(&input.url).map_err(|e| failed(&input.url, e)),
            "ansi" => {
                log(Level::Warn, "\x1b[2J\x1b[31mred alert\x1b[0m\nINFO forged line");
                Err(ToolError::Failed("\x1b]0;pwned title\x07 done".into()))
            }
            "out_big" => {
                // `n` bytes into one file, 1 MiB a write.
                use std::io::Write;
                let mut f = std::fs::File::create("/out/big").map_err(|e| failed("/out/big", e))?;
                let chunk = vec![7u8; 1 << 20];
                let mut written = 0u64;
                while written < input.n {
                    // In u64: a usize is 32 bits here, and 8 GiB would wrap to 0.
                    let take = (chunk.len() as u64).min(input.n - written) as usize;
                    f.write_all(&chunk[..take]).map_err(|e| failed("/out/big", e))?;
                    written += take as u64;
                }
                Ok(json!({ "written": written }))
            }
            "out_many" => {
                for i in 0..input.n {
                    let path = format!("/out/f{i}");
                    std::fs::write(&path, "x").map_err(|e| failed(&path, e))?;
                }
                Ok(json!({ "files": input.n }))
            }
            "out_sparse" => {
                let f = std::fs::File::create("/out/sparse").map_err(|e| failed("/out/sparse", e))?;
                f.set_len(input.n).map_err(|e| failed("/out/sparse", e))?;
                Ok(json!({ "length": input.n }))
            }
            "out_seek" => {
                use std::io::{Seek, SeekFrom, Write};
                let mut f = std::fs::File::create("/out/seek").map_err(|e| failed("/out/seek", e))?;
                f.seek(SeekFrom::Start(input.n)).map_err(|e| failed("/out/seek", e))?;
                f.write_all(b"!").map_err(|e| failed("/out/seek", e))?;
                Ok(json!({ "length": input.n + 1 }))
            }
            "socket_flood" => {
                // `n` refused sends: each one a denial.
                let mut refused = 0u64;
                for _ in 0..input.n {
                    let sent = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", ("127.0.0.1", input.port)));
                    if sent.is_err() {
                        refused += 1;
                    }
                }
                Ok(json!({ "refused": refused }))
            }
            "panic" => panic!("adversary panicked on purpose"),
            // No attack: the host still answers after the others.
            "ok" => Ok(json!({ "ok": true })),
            other => Err(ToolError::InvalidInput(format!("attack: unknown attack `{other}`"))),
        }
    }
}

export_tool!(Adversary);
