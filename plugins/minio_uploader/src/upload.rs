//! What `minio_uploader` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

pub(crate) fn invalid(msg: impl Into<String>) -> ToolError {
    ToolError::InvalidInput(msg.into())
}

// ---------------------------------------------------------------------------
// Validation

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) scheme: &'static str,
    /// `host[:port]` as sent (and signed as `host`).
    pub(crate) authority: String,
    /// `host:port` with the default port filled in: what the grant must name.
    pub(crate) grant: String,
}

impl Endpoint {
    pub(crate) fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

pub(crate) fn parse_endpoint(text: &str) -> Result<Endpoint, ToolError> {
    let bad = |why: &str| invalid(format!("endpoint: `{text}` {why}"));
    let (scheme, rest) = text
        .trim()
        .split_once("://")
        .ok_or_else(|| bad("is not a URL (want http://host:port)"))?;
    let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "http" => ("http", 80u16),
        "https" => ("https", 443u16),
        _ => return Err(bad("has an unsupported scheme (want http or https)")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(bad(
            "has a path or query; give scheme://host:port only (requests are path-style)",
        ));
    }
    if authority.contains('@') {
        return Err(bad("has user info; give the keys as access_key/secret_key"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed `[`"))?;
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("has an invalid IPv6 address"));
        }
        match after {
            "" => (format!("[{ip}]"), None),
            p => (
                format!("[{ip}]"),
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("has junk after `]`"))?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty()
        || !host.starts_with('[')
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad("has an invalid host"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("has an invalid port"))?,
        ),
    };
    let authority = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let grant = format!("{host}:{}", port.unwrap_or(default_port));
    Ok(Endpoint {
        scheme,
        authority,
        grant,
    })
}

pub(crate) fn check_bucket(bucket: &str) -> Result<(), ToolError> {
    let why = if !(3..=63).contains(&bucket.len()) {
        Some("must be 3 to 63 characters")
    } else if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        Some("may hold only lowercase letters, digits, `.` and `-`")
    } else if !bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        Some("must start and end with a letter or digit")
    } else if bucket.contains("..") {
        Some("must not hold `..`")
    } else if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("must not be an IP address")
    } else {
        None
    };
    match why {
        Some(why) => Err(invalid(format!(
            "bucket: `{bucket}` is not a valid bucket name: it {why}"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn check_region(region: &str) -> Result<(), ToolError> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid(format!(
            "region: `{region}` is not a region name (e.g. us-east-1)"
        )));
    }
    Ok(())
}

/// `prefix` without leading or trailing slashes; no empty, `.` or `..` segment.
pub(crate) fn normalise_prefix(prefix: &str) -> Result<String, ToolError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(invalid(format!(
            "prefix: `{prefix}` has an empty, `.` or `..` segment"
        )));
    }
    Ok(trimmed.to_string())
}

/// A workspace-relative path as `a/b/c`: relative, inside the workspace.
pub(crate) fn normalise_rel(field: &str, path: &str) -> Result<String, ToolError> {
    if path.is_empty() {
        return Err(invalid(format!("{field}: empty path")));
    }
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => match s.to_str() {
                Some(s) => parts.push(s),
                None => return Err(invalid(format!("{field}: `{path}` is not UTF-8"))),
            },
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(invalid(format!(
                    "{field}: `{path}` must be a workspace-relative path without `..`"
                )));
            }
        }
    }
    if parts.is_empty() {
        return Err(invalid(format!("{field}: `{path}` names no file")));
    }
    Ok(parts.join("/"))
}

pub(crate) fn check_access_key(field: &str, key: &str) -> Result<(), ToolError> {
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',')
    {
        return Err(invalid(format!(
            "{field}: the access key must be non-empty, without spaces, `/` or `,`"
        )));
    }
    Ok(())
}

/// The credentials and, when they came from a file, its normalised path.
pub(crate) fn resolve_credentials(input: &UploaderInput) -> Result<(Credentials, Option<String>), ToolError> {
    match (
        &input.access_key,
        &input.secret_key,
        &input.credentials_file,
    ) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(invalid(
            "credentials_file: give either access_key/secret_key or credentials_file, not both",
        )),
        (Some(access), Some(Secret(secret)), None) => {
            check_access_key("access_key", access)?;
            if secret.is_empty() {
                return Err(invalid("secret_key: empty"));
            }
            Ok((
                Credentials {
                    access_key: access.clone(),
                    secret_key: secret.clone(),
                },
                None,
            ))
        }
        (Some(_), None, None) => Err(invalid("secret_key: missing (access_key is given)")),
        (None, Some(_), None) => Err(invalid("access_key: missing (secret_key is given)")),
        (None, None, None) => Err(invalid(
            "access_key: missing; give access_key and secret_key, or credentials_file",
        )),
        (None, None, Some(file)) => {
            let rel = normalise_rel("credentials_file", file)?;
            let path = taylordash_sdk::workspace_dir().join(&rel);
            let text = std::fs::read(&path)
                .map_err(|e| invalid(format!("credentials_file: cannot read `{rel}`: {e}")))?;
            // Report where the file is wrong, never what it holds.
            let value: Value = serde_json::from_slice(&text).map_err(|e| {
                invalid(format!(
                    "credentials_file: `{rel}` is not JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
            let Value::Object(map) = value else {
                return Err(invalid(format!(
                    "credentials_file: `{rel}` must hold a JSON object {{access_key, secret_key}}"
                )));
            };
            if let Some(other) = map
                .keys()
                .find(|k| *k != "access_key" && *k != "secret_key")
            {
                return Err(invalid(format!(
                    "credentials_file: `{rel}`: unknown field `{other}`"
                )));
            }
            let get = |name: &str| match map.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(invalid(format!(
                    "credentials_file: `{rel}`: `{name}` must be a non-empty string"
                ))),
                None => Err(invalid(format!(
                    "credentials_file: `{rel}`: missing field `{name}`"
                ))),
            };
            let access_key = get("access_key")?;
            let secret_key = get("secret_key")?;
            check_access_key(
                &format!("credentials_file: `{rel}`: access_key"),
                &access_key,
            )?;
            Ok((
                Credentials {
                    access_key,
                    secret_key,
                },
                Some(rel),
            ))
        }
    }
}

pub(crate) fn hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Every regular, non-hidden file under `dir`, as sorted `a/b` paths.
pub(crate) fn list_workspace(dir: &Path) -> Result<Vec<String>, ToolError> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), ToolError> {
        let shown = if rel.is_empty() { "." } else { rel };
        let entries = std::fs::read_dir(dir).map_err(|e| {
            ToolError::Failed(format!(
                "files: cannot list workspace directory `{shown}`: {e}"
            ))
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                ToolError::Failed(format!(
                    "files: cannot list workspace directory `{shown}`: {e}"
                ))
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(ToolError::Failed(format!(
                    "files: `{shown}` holds a file name that is not UTF-8: {:?}",
                    entry.file_name()
                )));
            };
            if hidden(name) {
                continue;
            }
            let path = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry
                .file_type()
                .map_err(|e| ToolError::Failed(format!("files: cannot stat `{path}`: {e}")))?;
            if kind.is_dir() {
                walk(&entry.path(), &path, out)?;
            } else if kind.is_file() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// Content-Type by extension (lowercased); `application/octet-stream` otherwise.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    };
    match ext.as_str() {
        "json" => "application/json",
        "yaml" | "yml" => "application/yaml",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "txt" | "log" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "py" => "text/x-python; charset=utf-8",
        "sh" => "text/x-shellscript; charset=utf-8",
        "sql" => "application/sql",
        "toml" => "application/toml",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

// ---------------------------------------------------------------------------
// Requests

/// The parts of a request every call shares.
pub(crate) struct Signer<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) creds: &'a Credentials,
    pub(crate) region: &'a str,
}

impl Signer<'_> {
    /// A signed `PUT` of `body` to the unencoded `path` (`/bucket[/key]`).
    pub(crate) fn put(
        &self,
        net: &dyn Net,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<HttpRequest, ToolError> {
        let now = net
            .now_unix()
            .map_err(|e| ToolError::Failed(format!("clock: {e}")))?;
        let amz_date = sigv4::amz_date(now);
        let payload = sigv4::sha256_hex(&body);
        let path = sigv4::encode_path(path);
        let mut signed = vec![
            ("host".to_string(), self.endpoint.authority.clone()),
            ("x-amz-content-sha256".to_string(), payload.clone()),
            ("x-amz-date".to_string(), amz_date.clone()),
        ];
        if let Some(ct) = content_type {
            signed.push(("content-type".to_string(), ct.to_string()));
        }
        let sig = sigv4::sign(
            self.creds,
            self.region,
            "s3",
            &amz_date,
            &sigv4::Request {
                method: "PUT",
                canonical_uri: &path,
                query: &[],
                headers: &signed,
                payload_sha256: &payload,
            },
        );
        // The host sets `Host` from the authority; everything else is sent as signed.
        let mut headers: Vec<(String, String)> =
            signed.into_iter().filter(|(k, _)| k != "host").collect();
        headers.push(("authorization".to_string(), sig.authorization));
        headers.push(("content-length".to_string(), body.len().to_string()));
        headers.sort();
        Ok(HttpRequest {
            method: "PUT",
            scheme: self.endpoint.scheme,
            authority: self.endpoint.authority.clone(),
            path,
            headers,
            body,
        })
    }
}

/// `<Code>…</Code>` of an S3 XML error body.
pub(crate) fn s3_error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    Some(&body[start..start + len])
}

/// The first 300 characters of a body, whitespace collapsed.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(300).collect();
    if flat.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// An HTTP error status as the tool's error: 5xx retryable, else failed.
pub(crate) fn status_error(what: &str, url: &str, res: &HttpResponse, done: &str) -> ToolError {
    let body = String::from_utf8_lossy(&res.body);
    let mut msg = format!("{what}: PUT {url} answered {}", res.status);
    if let Some(code) = s3_error_code(&body) {
        let _ = write!(msg, " {code}");
    }
    let text = excerpt(&res.body);
    if !text.is_empty() {
        let _ = write!(msg, ": {text}");
    }
    msg.push_str(done);
    if (500..600).contains(&res.status) {
        ToolError::Retryable(msg)
    } else {
        ToolError::Failed(msg)
    }
}

pub(crate) fn net_error(what: &str, url: &str, endpoint: &Endpoint, err: NetError, done: &str) -> ToolError {
    match err {
        NetError::Denied(m) => ToolError::Failed(format!(
            "{what}: PUT {url}: the host refused the request ({m}); the plugin needs the grant http: [\"{}\"]{done}",
            endpoint.grant
        )),
        NetError::Transient(m) => ToolError::Retryable(format!("{what}: PUT {url}: {m}{done}")),
        NetError::Failed(m) => ToolError::Failed(format!("{what}: PUT {url}: {m}{done}")),
    }
}

/// The body S3 wants for a bucket outside us-east-1.
pub(crate) fn create_bucket_body(region: &str) -> Vec<u8> {
    if region == "us-east-1" {
        Vec::new()
    } else {
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        )
        .into_bytes()
    }
}

// ---------------------------------------------------------------------------
// The upload

/// Validate `input`, then upload through `net`.
pub fn upload(input: UploaderInput, net: &mut dyn Net) -> Result<UploaderOutput, ToolError> {
    let missing = |key: &str| {
        invalid(format!(
            "{key}: missing; give it in the input or in {CONFIG_FILE} in the workspace"
        ))
    };
    let endpoint = parse_endpoint(
        input
            .endpoint
            .as_deref()
            .ok_or_else(|| missing("endpoint"))?,
    )?;
    let bucket = input.bucket.clone().ok_or_else(|| missing("bucket"))?;
    check_bucket(&bucket)?;
    let region = input
        .region
        .clone()
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    check_region(&region)?;
    let prefix = normalise_prefix(&input.prefix)?;
    let (creds, creds_file) = resolve_credentials(&input)?;
    let workspace = taylordash_sdk::workspace_dir();
    let files = select_files(input.files.as_deref(), &workspace, creds_file.as_deref())?;
    let keys = object_keys(&prefix, &files)?;

    let signer = Signer {
        endpoint: &endpoint,
        creds: &creds,
        region: &region,
    };
    let to = Target { signer: &signer, endpoint: &endpoint, base: endpoint.url(), bucket: &bucket };
    if input.create_bucket {
        create_bucket(net, &to, &region)?;
    }
    let mut uploaded: Vec<UploadedObject> = Vec::with_capacity(files.len());
    for (file, key) in files.iter().zip(&keys) {
        let done = if uploaded.is_empty() {
            String::new()
        } else {
            format!(
                " ({} of {} files uploaded before this one)",
                uploaded.len(),
                files.len()
            )
        };
        uploaded.push(put_file(net, &to, &workspace, file, key, &done)?);
    }
    let endpoint = to.base;
    Ok(UploaderOutput {
        uploaded,
        bucket,
        endpoint,
    })
}

/// Where objects go: the signer, the endpoint (for error messages), its
/// base URL and the bucket.
pub(crate) struct Target<'a> {
    pub(crate) signer: &'a Signer<'a>,
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) base: String,
    pub(crate) bucket: &'a str,
}

/// Which files, each checked before the first request: the listed ones
/// (present, regular, not the credentials or the config file, no
/// duplicates), or every non-hidden regular file of the workspace.
pub(crate) fn select_files(listed: Option<&[String]>, workspace: &std::path::Path, creds_file: Option<&str>) -> Result<Vec<String>, ToolError> {
Ok(match listed {
    Some(list) => {
        if list.is_empty() {
            return Err(invalid(
                "files: empty list (leave `files` out to upload the whole workspace)",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut files = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let field = format!("files[{i}]");
            let rel = normalise_rel(&field, f)?;
            if creds_file == Some(rel.as_str()) {
                return Err(invalid(format!(
                    "{field}: `{rel}` is the credentials file; it is never uploaded"
                )));
            }
            if rel == CONFIG_FILE {
                return Err(invalid(format!(
                    "{field}: `{rel}` is the uploader's configuration; it is never uploaded"
                )));
            }
            let meta = std::fs::metadata(workspace.join(&rel))
                .map_err(|e| invalid(format!("{field}: cannot read `{rel}`: {e}")))?;
            if !meta.is_file() {
                return Err(invalid(format!("{field}: `{rel}` is not a regular file")));
            }
            if !seen.insert(rel.clone()) {
                return Err(invalid(format!("{field}: `{rel}` is listed twice")));
            }
            files.push(rel);
        }
        files
    }
    None => {
        let mut files = list_workspace(workspace)?;
        files.retain(|f| Some(f.as_str()) != creds_file && f != CONFIG_FILE);
        if files.is_empty() {
            return Err(ToolError::Failed(
                "files: the workspace holds no regular, non-hidden file to upload".into(),
            ));
        }
        files
    }
})
}

/// The object key of each file: `<prefix>/<file>`, at most 1024 bytes.
pub(crate) fn object_keys(prefix: &str, files: &[String]) -> Result<Vec<String>, ToolError> {
    let keys: Vec<String> = files
        .iter()
        .map(|f| {
            if prefix.is_empty() {
                f.clone()
            } else {
                format!("{prefix}/{f}")
            }
        })
        .collect();
    if let Some(long) = keys.iter().find(|k| k.len() > 1024) {
        return Err(invalid(format!(
            "prefix: key `{long}` is longer than S3's 1024 bytes"
        )));
    }
    Ok(keys)
}

/// Create the bucket; one this account already owns is fine.
pub(crate) fn create_bucket(net: &mut dyn Net, to: &Target<'_>, region: &str) -> Result<(), ToolError> {
    let Target { signer, endpoint, base, bucket } = to;
    let what = format!("bucket `{bucket}`");
    let path = format!("/{bucket}");
    let url = format!("{base}{}", sigv4::encode_path(&path));
    let body = create_bucket_body(region);
    let ct = (!body.is_empty()).then_some("application/xml");
    let req = signer.put(net, &path, ct, body)?;
    let res = net
        .send(&req)
        .map_err(|e| net_error(&what, &url, endpoint, e, ""))?;
    let code = s3_error_code(&String::from_utf8_lossy(&res.body)).map(str::to_string);
    match res.status {
        200..=299 => taylordash_sdk::log(Level::Info, &format!("{what}: created at {base}")),
        409 if code.as_deref() == Some("BucketAlreadyOwnedByYou") => taylordash_sdk::log(
            Level::Info,
            &format!("{what}: already exists, owned by these credentials"),
        ),
        _ => return Err(status_error(&what, &url, &res, "")),
    }
    Ok(())
}

/// PUT one file as `key`; `done` tells an error how far the upload got.
pub(crate) fn put_file(net: &mut dyn Net, to: &Target<'_>, workspace: &std::path::Path, file: &str, key: &str, done: &str) -> Result<UploadedObject, ToolError> {
    let Target { signer, endpoint, base, bucket } = to;
    let what = format!("key `{key}` (file `{file}`)");
    let body = std::fs::read(workspace.join(file))
        .map_err(|e| ToolError::Failed(format!("{what}: cannot read: {e}{done}")))?;
    let bytes = body.len() as u64;
    let sha256 = sigv4::sha256_hex(&body);
    let ct = content_type(file);
    let path = format!("/{bucket}/{key}");
    let url = format!("{base}{}", sigv4::encode_path(&path));
    let req = signer.put(net, &path, Some(ct), body)?;
    let res = net
        .send(&req)
        .map_err(|e| net_error(&what, &url, endpoint, e, done))?;
    if !(200..300).contains(&res.status) {
        return Err(status_error(&what, &url, &res, done));
    }
    let etag = res
        .header("etag")
        .map(|e| e.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    if etag.is_empty() {
        return Err(ToolError::Failed(format!(
            "{what}: PUT {url} answered {} without an ETag: is `{base}` an S3 API?{done}",
            res.status
        )));
    }
    taylordash_sdk::log(
        Level::Info,
        &format!("uploaded s3://{bucket}/{key} ({bytes} bytes, {ct})"),
    );
    Ok(UploadedObject {
        key: key.to_string(),
        bytes,
        sha256,
        etag,
    })
}

// ---------------------------------------------------------------------------
// Tests
