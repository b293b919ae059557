//! What `security_check` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

/// One year: the smallest HSTS max-age browsers' preload lists accept.
pub const MIN_HSTS_MAX_AGE: u64 = 31_536_000;
/// Files larger than this are not scanned for secrets.
pub(crate) const MAX_SCAN_BYTES: u64 = 1 << 20;
pub(crate) const BINARY: [&str; 14] =
    [".png", ".jpg", ".jpeg", ".gif", ".ico", ".wasm", ".sqlite", ".db", ".gz", ".zip", ".pdf", ".woff", ".woff2", ".pyc"];
pub(crate) const CONFIG_EXT: [&str; 9] = [".yaml", ".yml", ".env", ".ini", ".cfg", ".conf", ".properties", ".toml", ".envrc"];
pub(crate) const ALLOW: &str = "security_check: allow";
/// The Traefik dynamic configuration `traefik_hsts` writes.
pub const TRAEFIK_DYNAMIC: &str = "conf_snippets/traefik/dynamic.yml";

pub(crate) struct Check {
    pub(crate) findings: Vec<Finding>,
    pub(crate) checked: Vec<String>,
}

/// `AKIA…MPLE (20 characters)`: enough to find it, not enough to use it.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return format!("{}… ({} characters)", chars.iter().take(2).collect::<String>(), chars.len());
    }
    format!("{}…{} ({} characters)", chars[..4].iter().collect::<String>(), chars[chars.len() - 2..].iter().collect::<String>(), chars.len())
}

pub(crate) fn placeholder(v: &str) -> bool {
    let upper_env = v.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && v.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    v.starts_with("${") || v.starts_with("{{") || v.starts_with('<') || v.starts_with("%(") || v.starts_with('$')
        || v.chars().all(|c| c == '*' || c == 'x' || c == 'X') || upper_env
        || v.eq_ignore_ascii_case("redacted") || v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("null")
}

pub(crate) struct Rule {
    pub(crate) what: &'static str,
    pub(crate) re: Regex,
    /// Which capture group holds the secret.
    pub(crate) group: usize,
    pub(crate) config_only: bool,
    /// Placeholders (`${VAR}`, `<token>`, env var names) are not secrets.
    pub(crate) generic: bool,
    /// The rule can only match a line holding one of these (lower-case)
    /// words: a line without any is not handed to the regex engine, whose
    /// captures cost fuel in proportion to every line of every file.
    pub(crate) needles: &'static [&'static str],
}

impl Rule {
    /// Whether `lower` (a line in lower case) may match at all.
    pub(crate) fn may_match(&self, lower: &str) -> bool {
        self.needles.iter().any(|n| lower.contains(n))
    }
}

pub(crate) fn rules() -> Vec<Rule> {
    let r = |what: &'static str, pattern: &str, group, config_only, needles| Rule {
        what,
        re: Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}")),
        group,
        config_only,
        generic: what.contains("password") || what.contains("URL"),
        needles,
    };
    const PASSWORDS: &[&str] = &["password", "passwd", "pwd", "secret", "api_key", "apikey", "token"];
    vec![
        r(
            "an AWS access key id",
            r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16})\b",
            1,
            false,
            &["akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"],
        ),
        r("an AWS secret access key", r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})"#, 1, false, &["secret"]),
        r("a private key", r"(-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY(?: BLOCK)?-----)", 1, false, &["-----begin"]),
        r("a GitHub token", r"\b(gh[pousr]_[A-Za-z0-9]{36,})\b", 1, false, &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]),
        r("a Slack token", r"\b(xox[baprs]-[A-Za-z0-9-]{10,})", 1, false, &["xox"]),
        r("a Stripe secret key", r"\b(sk_live_[0-9A-Za-z]{24,})\b", 1, false, &["sk_live_"]),
        r("credentials in a URL", r#"\b[a-z][a-z0-9+.-]*://[^/\s:@'"]+:([^/\s@'"]+)@"#, 1, false, &["://"]),
        r(
            "a hard-coded password or secret",
            r#"(?i)\b(?:password|passwd|pwd|secret|secret_key|client_secret|api_key|apikey|access_token|auth_token|token)["']?\s*[:=]\s*[rbuf]?["']([^"'\s]{6,})["']"#,
            1,
            false,
            PASSWORDS,
        ),
        r(
            "a plain-text password or secret",
            r#"(?i)^\s*[-\w.]*(?:password|passwd|secret|api_key|apikey|token)[-\w.]*\s*[:=]\s*([^\s#'"]{6,})\s*$"#,
            1,
            true,
            PASSWORDS,
        ),
    ]
}

/// Python files of the app (`app/**/*.py`).
pub(crate) fn app_files() -> Vec<String> {
    source::list_files(paths::APP, &[".py"])
}

impl Check {
    pub(crate) fn read(&mut self, path: &str) -> Option<String> {
        let text = source::read_workspace("file", path).ok()?;
        self.checked.push(path.to_string());
        Some(text)
    }

    // -- 1. secrets -------------------------------------------------------------

    pub(crate) fn secrets(&mut self) -> usize {
        let rules = rules();
        let mut scanned = 0;
        for f in source::list_files("", &[]) {
            if BINARY.iter().any(|b| f.ends_with(b)) || f == format!("{}/security_check.json", paths::REPORTS) {
                continue;
            }
            let too_big = std::fs::metadata(taylordash_sdk::workspace_dir().join(&f)).map(|m| m.len() > MAX_SCAN_BYTES).unwrap_or(true);
            if too_big {
                continue;
            }
            let Some(text) = self.read(&f) else { continue };
            scanned += 1;
            let config = CONFIG_EXT.iter().any(|e| f.ends_with(e));
            for (i, line) in text.lines().enumerate() {
                if line.contains(ALLOW) {
                    continue;
                }
                let lower = line.to_ascii_lowercase();
                for rule in rules.iter().filter(|r| (config || !r.config_only) && r.may_match(&lower)) {
                    for caps in rule.re.captures_iter(line) {
                        let Some(m) = caps.get(rule.group) else { continue };
                        let value = m.as_str();
                        if value.ends_with("EXAMPLE") || value.ends_with("EXAMPLEKEY") || (rule.generic && placeholder(value)) {
                            continue;
                        }
                        let col = line[..m.start()].chars().count() + 1;
                        self.findings.push(Finding::new(&f, format!("{}:{col}", i + 1), format!("{}: `{}`", rule.what, redact(value))));
                    }
                }
            }
        }
        scanned
    }

    // -- 2. authentication --------------------------------------------------------

    pub(crate) fn openapi(&mut self) {
        let file = paths::OPENAPI;
        if !source::exists(file) {
            self.findings.push(Finding::new(file, "", "missing: cannot check that mutating operations require authentication"));
            return;
        }
        let Some(text) = self.read(file) else { return };
        let doc: Value = match source::decode(file, source::Format::Yaml, &text) {
            Ok(v) => v,
            Err(m) => {
                self.findings.push(Finding::new(file, "", format!("does not parse: {m}")));
                return;
            }
        };
        let loc = locate::index(&text);
        let schemes: Vec<String> =
            doc.pointer("/components/securitySchemes").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let global = doc.get("security");
        for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
            for method in ["post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let at = format!("/paths/{}/{method}", locate::escape(path));
                let label = format!("{} {path}", method.to_ascii_uppercase());
                let (reqs, where_) = match op.get("security") {
                    Some(r) => (Some(r), format!("{at}/security")),
                    None => (global, "/security".to_string()),
                };
                let list = reqs.and_then(Value::as_array).cloned().unwrap_or_default();
                if list.is_empty() {
                    self.add(file, &loc, &at, format!("{label}: a mutating operation without a security requirement"));
                    continue;
                }
                if list.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())) {
                    self.add(file, &loc, &where_, format!("{label}: `{{}}` in its security requirements lets anonymous callers in"));
                }
                for (i, r) in list.iter().enumerate() {
                    for name in r.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                        if !schemes.contains(&name) {
                            self.add(file, &loc, &format!("{where_}/{i}"), format!("{label}: security scheme `{name}` is not declared"));
                        }
                    }
                }
            }
        }
        for (i, s) in doc.get("servers").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(url) = s.get("url").and_then(Value::as_str)
                && url.starts_with("http://")
            {
                self.add(file, &loc, &format!("/servers/{i}/url"), format!("server `{url}` is plain HTTP"));
            }
        }
    }

    pub(crate) fn add(&mut self, file: &str, loc: &Locations, pointer: &str, message: String) {
        self.findings.push(Finding::new(file, loc.describe(pointer), message));
    }

    pub(crate) fn app_routes(&mut self) {
        let decorator = Regex::new(r"@(\w+)\.(post|put|patch|delete)\(").unwrap_or_else(|e| panic!("{e}"));
        let auth = Regex::new(r"(?i)Depends\(\s*[\w.]*(token|auth|user|security|bearer|api_key|principal)").unwrap_or_else(|e| panic!("{e}"));
        let mut routes = 0;
        for f in app_files() {
            let Some(text) = self.read(&f) else { continue };
            for m in decorator.find_iter(&text) {
                routes += 1;
                // The decorator and the signature: up to the end of the `def` line.
                let rest = &text[m.start()..];
                let end = rest
                    .find("def ")
                    .and_then(|d| rest[d..].find(":\n").map(|e| d + e))
                    .unwrap_or(rest.len().min(2000));
                let block = &rest[..end];
                if !auth.is_match(block) {
                    let name = block.split("def ").nth(1).and_then(|s| s.split('(').next()).unwrap_or("?");
                    let (line, col) = line_col(&text, m.start());
                    self.findings.push(Finding::new(
                        &f,
                        format!("{line}:{col}"),
                        format!(
                            "{} route `{name}` does not depend on authentication (e.g. `dependencies=[Depends(require_token)]`)",
                            m.as_str().trim_start_matches('@').split('.').nth(1).unwrap_or("").trim_end_matches('(').to_ascii_uppercase()
                        ),
                    ));
                }
            }
        }
        if routes == 0 && !app_files().is_empty() {
            taylordash_sdk::log(taylordash_sdk::Level::Info, "security_check: the app declares no mutating routes");
        }
    }

    // -- 3. transport -------------------------------------------------------------

    pub(crate) fn transport(&mut self) {
        let files = app_files();
        if files.is_empty() {
            self.findings.push(Finding::new("app/", "", "missing: no app code to check for HSTS and TLS (fastapi_gen writes it)"));
            return;
        }
        let header = Regex::new(r"(?i)strict-transport-security").unwrap_or_else(|e| panic!("{e}"));
        let max_age = Regex::new(r"(?i)(?:max-age=|hsts_max_age\s*[:=]\s*(?:int\s*=\s*)?)(\d+)").unwrap_or_else(|e| panic!("{e}"));
        let plaintext = Regex::new(r#"["'](http|ws|mqtt|amqp|redis|ftp)://([^"'\s/:{}]+)"#).unwrap_or_else(|e| panic!("{e}"));
        let no_ssl = Regex::new(r#"(?i)["']postgres(?:ql)?://[^"']*sslmode=disable"#).unwrap_or_else(|e| panic!("{e}"));
        let mqtt_import = Regex::new(r"(?m)^\s*(?:import|from)\s+(paho|aiomqtt|asyncio_mqtt|gmqtt)\b").unwrap_or_else(|e| panic!("{e}"));
        let mqtt_tls = Regex::new(r"tls_set|tls_context|ssl\.create_default_context|tls_params").unwrap_or_else(|e| panic!("{e}"));
        let class_def = Regex::new(r"(?m)^class (\w+)").unwrap_or_else(|e| panic!("{e}"));

        let mut header_files: Vec<(String, Vec<String>)> = Vec::new();
        let mut ages: Vec<(String, usize, usize, u64)> = Vec::new();
        let mut subdomains = false;
        for f in &files {
            let Some(text) = source::read_workspace("file", f).ok() else { continue };
            if header.is_match(&text) {
                let classes = class_def.captures_iter(&text).filter_map(|c| c.get(1).map(|m| m.as_str().to_string())).collect();
                header_files.push((f.clone(), classes));
                subdomains |= text.contains("includeSubDomains");
            }
            for c in max_age.captures_iter(&text) {
                if let Some(m) = c.get(1) {
                    let (line, col) = line_col(&text, m.start());
                    ages.push((f.clone(), line, col, m.as_str().parse().unwrap_or(0)));
                }
            }
            for c in plaintext.captures_iter(&text) {
                let (Some(all), Some(scheme), Some(host)) = (c.get(0), c.get(1), c.get(2)) else { continue };
                let (line, col) = line_col(&text, all.start() + 1);
                let secure = match scheme.as_str() {
                    "http" => "https",
                    "ws" => "wss",
                    "mqtt" => "mqtts",
                    "amqp" => "amqps",
                    "redis" => "rediss",
                    _ => "a TLS scheme",
                };
                self.findings.push(Finding::new(
                    f,
                    format!("{line}:{col}"),
                    format!(
                        "plaintext URL `{}://{}` in app code: default to {secure}:// and take plaintext endpoints from configuration only",
                        scheme.as_str(),
                        host.as_str()
                    ),
                ));
            }
            for m in no_ssl.find_iter(&text) {
                let (line, col) = line_col(&text, m.start() + 1);
                self.findings.push(Finding::new(f, format!("{line}:{col}"), "a database URL with `sslmode=disable` in app code"));
            }
            if let Some(m) = mqtt_import.find(&text)
                && !mqtt_tls.is_match(&text)
            {
                let (line, col) = line_col(&text, m.start());
                self.findings.push(Finding::new(f, format!("{line}:{col}"), "an MQTT client without TLS (no tls_set / SSL context)"));
            }
        }
        if header_files.is_empty() {
            self.findings.push(Finding::new("app/", "", "no `Strict-Transport-Security` (HSTS) header is set by the app"));
            return;
        }
        if ages.is_empty() {
            self.findings.push(Finding::new(&header_files[0].0, "", "HSTS without a max-age"));
        }
        for (f, line, col, age) in ages {
            if age < MIN_HSTS_MAX_AGE {
                self.findings.push(Finding::new(
                    &f,
                    format!("{line}:{col}"),
                    format!("HSTS max-age {age} is below one year ({MIN_HSTS_MAX_AGE} s)"),
                ));
            }
        }
        if !subdomains {
            self.findings.push(Finding::new(&header_files[0].0, "", "HSTS without includeSubDomains"));
        }
        let main = format!("{}/main.py", paths::APP);
        if let Ok(text) = source::read_workspace("file", &main) {
            let installed = header_files.iter().any(|(f, classes)| {
                let module = f.trim_end_matches(".py").replace('/', ".");
                (text.contains(&module) || text.contains(f.rsplit('/').next().unwrap_or("").trim_end_matches(".py")))
                    && (classes.is_empty() || classes.iter().any(|c| text.contains(c.as_str())))
            });
            if !installed {
                self.findings.push(Finding::new(&main, "", format!("the HSTS middleware of {} is not installed here", header_files[0].0)));
            }
        }
    }

    /// The Traefik snippet, when present: HSTS of at least a year with
    /// `includeSubDomains` on every `headers` middleware that sets it, and
    /// on every TLS router (`middlewares` may name `name@provider`).
    pub(crate) fn traefik(&mut self) {
        let file = TRAEFIK_DYNAMIC;
        if !source::exists(file) {
            return;
        }
        let Some(text) = self.read(file) else { return };
        let doc: Value = match source::decode(file, source::Format::Yaml, &text) {
            Ok(v) => v,
            Err(m) => {
                self.findings.push(Finding::new(file, "", format!("does not parse: {m}")));
                return;
            }
        };
        let loc = locate::index(&text);
        let mut hsts = Vec::new();
        for (name, m) in doc.pointer("/http/middlewares").and_then(Value::as_object).into_iter().flatten() {
            let Some(sts) = m.get("headers").and_then(|h| h.get("stsSeconds")) else { continue };
            let at = format!("/http/middlewares/{}/headers", locate::escape(name));
            if sts.as_u64().is_none_or(|s| s < MIN_HSTS_MAX_AGE) {
                self.add(file, &loc, &format!("{at}/stsSeconds"), format!("middleware {name}: HSTS stsSeconds {sts} is below one year ({MIN_HSTS_MAX_AGE} s)"));
            }
            if m.pointer("/headers/stsIncludeSubdomains") != Some(&Value::Bool(true)) {
                self.add(file, &loc, &at, format!("middleware {name}: HSTS without stsIncludeSubdomains"));
            }
            hsts.push(name.as_str());
        }
        for (name, r) in doc.pointer("/http/routers").and_then(Value::as_object).into_iter().flatten() {
            if r.get("tls").is_none() {
                continue;
            }
            let uses_hsts = r
                .get("middlewares")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|m| hsts.contains(&m.split('@').next().unwrap_or(m)));
            if !uses_hsts {
                self.add(
                    file,
                    &loc,
                    &format!("/http/routers/{}", locate::escape(name)),
                    format!("TLS router {name} sends no HSTS header (no headers middleware with stsSeconds)"),
                );
            }
        }
    }
}
