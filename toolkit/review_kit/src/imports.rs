//! Which packages one line of source imports, by top-level name.
//!
//! Python: `import a.b as c` and `import a, b` (→ `a`, `b`), `from a.b
//! import c` (→ `a`); relative imports (`from .x import y`) and
//! `__future__` are left out. Several statements joined by `;` are all
//! read; a comment ends the line.
//!
//! JavaScript/TypeScript: `import x from 'pkg'`, `import {a} from "pkg"`,
//! `import type …`, `import 'pkg'`, `export … from 'pkg'`, the last line of
//! a multi-line import (`} from 'pkg'`), `require('pkg')` and `import('pkg')`
//! → the package: `pkg` of `pkg/sub`, `@scope/name` of `@scope/name/sub`.
//! Relative (`./`, `../`) and absolute paths, subpath imports (`#x`), URLs
//! and `node:` modules are left out, and so are Node's built-in modules
//! written without `node:` (`fs`, `path/posix`).
//!
//! One line at a time: an import split over lines is seen only where its
//! module is named, and text that merely looks like an import (in a
//! docstring, say) counts.

/// The source languages whose imports are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    Python,
    /// JavaScript and TypeScript (their imports name packages alike).
    JavaScript,
}

impl Language {
    /// By file name: `.py`; `.js`, `.mjs`, `.cjs`, `.jsx`, `.ts`, `.mts`,
    /// `.cts`, `.tsx`. `None` for anything else (`.d.ts` included: it
    /// declares, it does not import code).
    pub fn of(path: &str) -> Option<Language> {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        if name.ends_with(".d.ts") {
            return None;
        }
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "py" => Some(Language::Python),
            "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => Some(Language::JavaScript),
            _ => None,
        }
    }

    /// The file name endings of the language's source files.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Language::Python => &[".py"],
            Language::JavaScript => &[".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"],
        }
    }
}

/// The top-level packages `line` (of a file in `language`) imports, in
/// order, without repeats.
pub fn imports_of(language: Language, line: &str) -> Vec<String> {
    match language {
        Language::Python => python_imports(line),
        Language::JavaScript => js_imports(line),
    }
}

/// The top-level modules a line of Python imports.
pub fn python_imports(line: &str) -> Vec<String> {
    let code = line.split('#').next().unwrap_or("");
    let mut out: Vec<String> = Vec::new();
    for statement in code.split(';') {
        let s = statement.trim();
        let found = if let Some(rest) = after_keyword(s, "import") {
            import_list(rest)
        } else if let Some(rest) = after_keyword(s, "from") {
            from_import(rest).into_iter().collect()
        } else {
            Vec::new()
        };
        for name in found {
            if name != "__future__" && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// `a.b as c, d` → `a`, `d`; nothing unless every item is a module name
/// with an optional alias (so prose after the word `import` is no import).
fn import_list(rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    for item in rest.split(',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let module = match words.as_slice() {
            [module] => module,
            [module, "as", alias] if is_identifier(alias) => module,
            _ => return Vec::new(),
        };
        match top_level(module) {
            Some(top) => out.push(top),
            None => return Vec::new(),
        }
    }
    out
}

/// `a.b import c` → `a`; relative modules (`.x`, `.`) → nothing.
fn from_import(rest: &str) -> Option<String> {
    let mut words = rest.split_whitespace();
    let module = words.next()?;
    if words.next()? != "import" || words.next().is_none() || module.starts_with('.') {
        return None;
    }
    top_level(module)
}

/// The first part of a dotted module name, if the whole is one.
fn top_level(module: &str) -> Option<String> {
    let mut parts = module.split('.');
    let first = parts.next()?;
    (is_identifier(first) && parts.all(is_identifier)).then(|| first.to_string())
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The rest of `s` after `keyword` and at least one space, if `s` starts so.
fn after_keyword<'a>(s: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(keyword)?;
    rest.starts_with(char::is_whitespace).then_some(rest)
}

/// The packages a line of JavaScript or TypeScript imports.
pub fn js_imports(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") || code.starts_with("/*") || code.starts_with('*') {
        return Vec::new();
    }
    let mut specifiers: Vec<String> = Vec::new();
    for statement in code.split(';') {
        let s = statement.trim();
        let is_static = after_keyword(s, "import").is_some()
            || after_keyword(s, "export").is_some()
            || s.starts_with('}')
            || s.starts_with("import'")
            || s.starts_with("import\"");
        if !is_static {
            continue;
        }
        if let Some(spec) = from_clause(s) {
            specifiers.push(spec);
        } else if let Some(rest) = s.strip_prefix("import")
            && let Some((spec, _)) = string_literal(rest.trim_start())
        {
            specifiers.push(spec);
        }
    }
    for call in ["require", "import"] {
        specifiers.extend(call_arguments(code, call));
    }
    let mut out: Vec<String> = Vec::new();
    for spec in specifiers {
        if let Some(package) = js_package(&spec)
            && !out.contains(&package)
        {
            out.push(package);
        }
    }
    out
}

/// The module of `… from 'pkg'` (the last `from` followed by a string).
fn from_clause(statement: &str) -> Option<String> {
    let mut search = statement;
    while let Some(at) = search.rfind("from") {
        let before_ok = search[..at].chars().next_back().is_none_or(|c| c.is_whitespace() || c == '}' || c == '*');
        if before_ok && let Some((spec, _)) = string_literal(statement[at + 4..].trim_start()) {
            return Some(spec);
        }
        search = &search[..at];
    }
    None
}

/// The string arguments of `name('x')` calls in `code` (`require`, and
/// `import(…)`, the dynamic import).
fn call_arguments(code: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.') {
            continue;
        }
        let Some(args) = code[from..].trim_start().strip_prefix('(') else { continue };
        if let Some((spec, rest)) = string_literal(args.trim_start())
            && rest.trim_start().starts_with([')', ','])
        {
            out.push(spec);
        }
    }
    out
}

/// A quoted string at the start of `s` (`'…'`, `"…"`, or a template
/// literal without substitutions) and the text after it.
fn string_literal(s: &str) -> Option<(String, &str)> {
    let quote = s.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let body = &s[1..];
    let end = body.find(quote)?;
    let value = &body[..end];
    if value.contains('\\') || (quote == '`' && value.contains("${")) {
        return None;
    }
    Some((value.to_string(), &body[end + 1..]))
}

/// The package a module specifier names: `lodash` of `lodash/fp`,
/// `@scope/name` of `@scope/name/sub`; `None` for relative and absolute
/// paths, subpath imports (`#x`), URLs and `node:` modules (any
/// `scheme:`), Node's built-in modules, and anything that is no package
/// name.
pub fn js_package(specifier: &str) -> Option<String> {
    let spec = specifier.trim();
    if spec.is_empty() || spec.starts_with(['.', '/', '#', '~']) || spec.contains(':') || spec.contains(char::is_whitespace) {
        return None;
    }
    let valid = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
    };
    let mut parts = spec.split('/');
    let first = parts.next()?;
    if let Some(scope) = first.strip_prefix('@') {
        let name = parts.next()?;
        return (valid(scope) && valid(name)).then(|| format!("@{scope}/{name}"));
    }
    (valid(first) && !NODE_BUILTINS.contains(&first)).then(|| first.to_string())
}

/// Node's built-in modules importable without `node:`
/// (`require('module').builtinModules` of Node 20, subpaths such as
/// `fs/promises` left to their first part).
pub const NODE_BUILTINS: [&str; 56] = [
    "_http_agent", "_http_client", "_http_common", "_http_incoming", "_http_outgoing", "_http_server",
    "_stream_duplex", "_stream_passthrough", "_stream_readable", "_stream_transform", "_stream_wrap",
    "_stream_writable", "_tls_common", "_tls_wrap", "assert", "async_hooks", "buffer", "child_process", "cluster",
    "console", "constants", "crypto", "dgram", "diagnostics_channel", "dns", "domain", "events", "fs", "http",
    "http2", "https", "inspector", "module", "net", "os", "path", "perf_hooks", "process", "punycode",
    "querystring", "readline", "repl", "stream", "string_decoder", "sys", "timers", "tls", "trace_events", "tty",
    "url", "util", "v8", "vm", "wasi", "worker_threads", "zlib",
];
