//! What `traefik_hsts` does beside its `Input`, `Output` and `impl Tool` (in
//! `lib.rs`): the input checks and the dynamic configuration document.

use super::*;

/// One year: the smallest HSTS max-age browsers' preload lists accept.
pub const MIN_STS_SECONDS: u64 = 31_536_000;
/// Two years: the default, as the app's own `HSTS_MAX_AGE`.
pub const DEFAULT_STS_SECONDS: u64 = 63_072_000;
pub const DEFAULT_BACKEND_URL: &str = "http://api:8000";
/// The HTTPS entry point of Traefik's static configuration (its documented name).
pub const TLS_ENTRY_POINT: &str = "websecure";
/// The plain-HTTP entry point, which only redirects.
pub const HTTP_ENTRY_POINT: &str = "web";
/// The TLS options every router uses (Traefik applies `default` to TLS routers without their own).
pub const TLS_OPTIONS: &str = "default";
/// TLS 1.2 suites: ECDHE with AEAD only (TLS 1.3's suites are not configurable).
pub const TLS12_CIPHER_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];
pub const CURVE_PREFERENCES: [&str; 3] = ["X25519", "CurveP256", "CurveP384"];

/// The checked inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `None`: `<service>.localhost`.
    pub host: Option<String>,
    pub backend_url: String,
    pub sts_seconds: u64,
    pub tls_min_version: TlsVersion,
}

impl Settings {
    pub fn from_input(input: &TraefikInput) -> Result<Settings, ToolError> {
        let host = input.host.as_deref().map(check_host).transpose()?;
        let backend_url = match input.backend_url.as_deref() {
            Some(url) => check_backend_url(url)?,
            None => DEFAULT_BACKEND_URL.to_string(),
        };
        let sts_seconds = input.sts_seconds.unwrap_or(DEFAULT_STS_SECONDS);
        if sts_seconds < MIN_STS_SECONDS {
            return Err(ToolError::InvalidInput(format!(
                "sts_seconds: {sts_seconds} is below one year ({MIN_STS_SECONDS} s), the least HSTS preload lists accept"
            )));
        }
        if i64::try_from(sts_seconds).is_err() {
            return Err(ToolError::InvalidInput(format!("sts_seconds: {sts_seconds} is too large")));
        }
        Ok(Settings { host, backend_url, sts_seconds, tls_min_version: input.tls_min_version.unwrap_or_default() })
    }
}

/// A DNS host name: labels of letters, digits and `-` (not at either end),
/// at most 63 characters each and 253 in all. Returned lower-cased.
pub fn check_host(host: &str) -> Result<String, ToolError> {
    let bad = || {
        ToolError::InvalidInput(format!(
            "host: `{host}` is not a DNS host name (labels of letters, digits and `-`, separated by `.`)"
        ))
    };
    if host.is_empty() || host.len() > 253 {
        return Err(bad());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(host.to_ascii_lowercase())
}

/// `http://` or `https://`, a host (name, IPv4 or `[IPv6]`), an optional
/// port, an optional path; no credentials (they would be echoed into a
/// configuration file, and this message does not echo them either).
pub fn check_backend_url(url: &str) -> Result<String, ToolError> {
    let invalid = |why: &str| ToolError::InvalidInput(format!("backend_url: `{url}` {why}"));
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Err(invalid("must start with http:// or https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(ToolError::InvalidInput("backend_url: credentials (`user:password@`) are not allowed in the URL".into()));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '`' || c == '"' || c == '\'') {
        return Err(invalid("contains characters not allowed in a URL"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else { return Err(invalid("has an unclosed `[` in its host")) };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(invalid("has an invalid IPv6 host"));
        }
        match after {
            "" => (addr, None),
            p => match p.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => return Err(invalid("has an invalid port")),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("has no host"));
    }
    if !authority.starts_with('[') {
        check_host(host).map_err(|_| invalid("has an invalid host"))?;
    }
    if let Some(p) = port
        && !(p.len() <= 5 && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n)))
    {
        return Err(invalid("has an invalid port"));
    }
    Ok(url.to_string())
}

/// What the tool writes, with the names the output reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub host: String,
    pub backend_url: String,
    pub sts_seconds: u64,
    pub tls_min_version: TlsVersion,
    /// `<service>-api`: the router's and the service's name.
    pub service: String,
    pub redirect: String,
    pub routers: Vec<Router>,
    pub hsts: Hsts,
}

impl Plan {
    pub fn new(model: &ServiceModel, s: Settings) -> Plan {
        let prefix = match names::slug(&model.service.name) {
            p if p.is_empty() => "api".to_string(),
            p => p,
        };
        let host = s.host.unwrap_or_else(|| format!("{prefix}.localhost"));
        let service = format!("{prefix}-api");
        let hsts_name = format!("{prefix}-hsts");
        let redirect = format!("{prefix}-https-redirect");
        let rule = format!("Host(`{host}`)");
        let routers = vec![
            Router {
                name: service.clone(),
                rule: rule.clone(),
                entry_points: vec![TLS_ENTRY_POINT.into()],
                service: service.clone(),
                middlewares: vec![hsts_name.clone()],
                tls_options: Some(TLS_OPTIONS.into()),
            },
            Router {
                name: format!("{service}-http"),
                rule,
                entry_points: vec![HTTP_ENTRY_POINT.into()],
                service: service.clone(),
                middlewares: vec![redirect.clone()],
                tls_options: None,
            },
        ];
        let hsts = Hsts {
            middleware: hsts_name,
            sts_seconds: s.sts_seconds,
            include_subdomains: true,
            preload: true,
            force: true,
            header: format!("max-age={}; includeSubDomains; preload", s.sts_seconds),
        };
        Plan {
            host,
            backend_url: s.backend_url,
            sts_seconds: s.sts_seconds,
            tls_min_version: s.tls_min_version,
            service,
            redirect,
            routers,
            hsts,
        }
    }

    /// The dynamic configuration: `http` (routers, services, middlewares) and `tls`.
    pub fn document(&self) -> Doc {
        let mut routers = Doc::map();
        for r in &self.routers {
            let mut router = doc!({
                "rule": (r.rule.as_str()),
                "entryPoints": (r.entry_points.clone()),
                "middlewares": (r.middlewares.clone()),
                "service": (r.service.as_str())
            });
            if let Some(options) = &r.tls_options {
                router.insert("tls", doc!({ "options": (options.as_str()) }));
            }
            routers.insert(r.name.as_str(), router);
        }
        let sts = Doc::Int(i64::try_from(self.sts_seconds).unwrap_or(i64::MAX));
        let headers = doc!({
            "stsSeconds": sts,
            "stsIncludeSubdomains": (self.hsts.include_subdomains),
            "stsPreload": (self.hsts.preload),
            "forceSTSHeader": (self.hsts.force),
            "frameDeny": true,
            "contentTypeNosniff": true,
            "browserXssFilter": true,
            "referrerPolicy": "no-referrer"
        });
        let mut options = doc!({ "minVersion": (self.tls_min_version.as_str()), "sniStrict": true });
        if self.tls_min_version == TlsVersion::VersionTLS12 {
            options.insert("cipherSuites", Doc::Seq(TLS12_CIPHER_SUITES.iter().map(|s| Doc::from(*s)).collect()));
        }
        options.insert("curvePreferences", Doc::Seq(CURVE_PREFERENCES.iter().map(|s| Doc::from(*s)).collect()));
        doc!({
            "http": {
                "routers": routers,
                "services": {
                    (self.service.as_str()): {
                        "loadBalancer": {
                            "servers": [{ "url": (self.backend_url.as_str()) }],
                            "passHostHeader": true
                        }
                    }
                },
                "middlewares": {
                    (self.hsts.middleware.as_str()): { "headers": headers },
                    (self.redirect.as_str()): { "redirectScheme": { "scheme": "https", "permanent": true } }
                }
            },
            "tls": {
                "options": { (TLS_OPTIONS): options }
            }
        })
    }

    /// The file: a comment saying what it is and how to load it, then the document.
    pub fn yaml_text(&self, model: &ServiceModel) -> String {
        format!(
            "# Traefik v3 dynamic configuration (file provider) for {title}: generated by\n\
             # traefik_hsts from {source}. Load it with `--providers.file.filename` (or\n\
             # `providers.file.directory`); the static configuration defines the entry\n\
             # points `{TLS_ENTRY_POINT}` (:443) and `{HTTP_ENTRY_POINT}` (:80). Certificates come from the\n\
             # deployment (a certResolver or tls.certificates): with sniStrict,\n\
             # Traefik serves no default certificate.\n\
             # HSTS: {header}\n\
             {yaml}",
            title = model.service.title,
            source = model.source,
            header = self.hsts.header,
            yaml = self.document().to_yaml_text()
        )
    }
}
