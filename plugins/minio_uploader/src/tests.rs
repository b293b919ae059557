use super::*;
use serde_json::json;
use std::collections::BTreeMap;
use taylordash_sdk::testing::Harness;

const ACCESS: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2024-02-29T23:59:59Z.
const NOW: u64 = 1_709_251_199;

type Override = Box<dyn FnMut(&HttpRequest) -> Option<Result<HttpResponse, NetError>>>;

/// An in-memory S3 that checks every request's SigV4 signature, payload
/// hash and length the way a server does, and stores what it accepts.
struct FakeS3 {
    secret: String,
    buckets: BTreeMap<String, String>,
    objects: BTreeMap<(String, String), (Vec<u8>, String)>,
    requests: Vec<HttpRequest>,
    answer: Option<Override>,
}

fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn s3_error(status: u16, code: &str) -> HttpResponse {
    response(
        status,
        &format!(
            "<?xml version=\"1.0\"?>\n<Error>\n  <Code>{code}</Code>\n  <Message>m</Message>\n</Error>"
        ),
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl FakeS3 {
    fn new() -> Self {
        FakeS3 {
            secret: SECRET.into(),
            buckets: BTreeMap::new(),
            objects: BTreeMap::new(),
            requests: Vec::new(),
            answer: None,
        }
    }

    fn with_bucket(mut self, bucket: &str) -> Self {
        self.buckets.insert(bucket.into(), ACCESS.into());
        self
    }

    fn answering(
        mut self,
        f: impl FnMut(&HttpRequest) -> Option<Result<HttpResponse, NetError>> + 'static,
    ) -> Self {
        self.answer = Some(Box::new(f));
        self
    }

    fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
        req.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Recompute the signature from what arrived, as S3 does.
    fn verify(&self, req: &HttpRequest) -> Result<(), HttpResponse> {
        let authz =
            Self::header(req, "authorization").ok_or_else(|| s3_error(403, "AccessDenied"))?;
        let rest = authz.strip_prefix("AWS4-HMAC-SHA256 Credential=").unwrap();
        let (cred, rest) = rest.split_once(", SignedHeaders=").unwrap();
        let (signed, _) = rest.split_once(", Signature=").unwrap();
        let mut parts = cred.split('/');
        let access = parts.next().unwrap();
        let (_day, region, service) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        if access != ACCESS {
            return Err(s3_error(403, "InvalidAccessKeyId"));
        }
        let headers: Vec<(String, String)> = signed
            .split(';')
            .map(|name| {
                let value = if name == "host" {
                    req.authority.clone()
                } else {
                    Self::header(req, name).unwrap().to_string()
                };
                (name.to_string(), value)
            })
            .collect();
        let payload = Self::header(req, "x-amz-content-sha256").unwrap();
        if payload != sigv4::sha256_hex(&req.body) {
            return Err(s3_error(400, "XAmzContentSHA256Mismatch"));
        }
        assert_eq!(
            Self::header(req, "content-length"),
            Some(req.body.len().to_string().as_str())
        );
        let date = Self::header(req, "x-amz-date").unwrap();
        let expect = sigv4::sign(
            &Credentials {
                access_key: ACCESS.into(),
                secret_key: self.secret.clone(),
            },
            region,
            service,
            date,
            &sigv4::Request {
                method: req.method,
                canonical_uri: &req.path,
                query: &[],
                headers: &headers,
                payload_sha256: payload,
            },
        );
        if expect.authorization != authz {
            return Err(s3_error(403, "SignatureDoesNotMatch"));
        }
        Ok(())
    }
}

impl Net for FakeS3 {
    fn now_unix(&self) -> Result<u64, String> {
        Ok(NOW)
    }

    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, NetError> {
        self.requests.push(req.clone());
        if let Some(answer) = self.answer.as_mut()
            && let Some(res) = answer(req)
        {
            return res;
        }
        if let Err(res) = self.verify(req) {
            return Ok(res);
        }
        let path = percent_decode(&req.path);
        let path = path.strip_prefix('/').unwrap();
        match path.split_once('/') {
            None => {
                if self.buckets.contains_key(path) {
                    return Ok(s3_error(409, "BucketAlreadyOwnedByYou"));
                }
                self.buckets.insert(path.into(), ACCESS.into());
                Ok(response(200, ""))
            }
            Some((bucket, key)) => {
                if !self.buckets.contains_key(bucket) {
                    return Ok(s3_error(404, "NoSuchBucket"));
                }
                let ct = Self::header(req, "content-type")
                    .unwrap_or_default()
                    .to_string();
                self.objects
                    .insert((bucket.into(), key.into()), (req.body.clone(), ct));
                let etag = format!("\"{}\"", &sigv4::sha256_hex(&req.body)[..32]);
                Ok(HttpResponse {
                    status: 200,
                    headers: vec![("etag".into(), etag)],
                    body: Vec::new(),
                })
            }
        }
    }
}

/// The tool's own input, as the SDK hands it over: the envelope taken out.
fn input(v: Value) -> UploaderInput {
    let (_, own) = taylordash_sdk::Envelope::split(v).unwrap();
    serde_json::from_value(own).unwrap()
}

fn base(extra: Value) -> Value {
    let mut v = json!({
        "endpoint": "http://127.0.0.1:9000",
        "bucket": "taylordash-artifacts",
        "region": "us-east-1",
        "access_key": ACCESS,
        "secret_key": SECRET,
    });
    for (k, x) in extra.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    v
}

fn workspace() -> Harness {
    let h = Harness::new();
    h.write_workspace("openapi.yaml", "openapi: 3.1.0\n");
    h.write_workspace("docs/index.md", "# TaylorDash\n");
    h.write_workspace("docs/my spec+v1.json", "{}\n");
    h.write_workspace("app/main.py", "print('hi')\n");
    h.write_workspace(".env", "SECRET=1\n");
    h.write_workspace(".git/config", "[core]\n");
    h.write_workspace("docs/.draft.md", "wip\n");
    h
}

fn invalid_msg(h: &Harness, v: Value) -> String {
    match h.run::<MinioUploader>(v) {
        Err(ToolError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn uploads_the_listed_files_signed_with_their_hashes() {
    let h = workspace();
    let mut s3 = FakeS3::new().with_bucket("taylordash-artifacts");
    let out = upload(
        input(base(json!({ "prefix": "/run-42/", "files": ["openapi.yaml", "./docs/my spec+v1.json"] }))),
        &mut s3,
    )
    .unwrap();
    assert_eq!(out.bucket, "taylordash-artifacts");
    assert_eq!(out.endpoint, "http://127.0.0.1:9000");
    let keys: Vec<_> = out.uploaded.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys, ["run-42/openapi.yaml", "run-42/docs/my spec+v1.json"]);
    assert_eq!(out.uploaded[0].bytes, 15);
    assert_eq!(
        out.uploaded[0].sha256,
        sigv4::sha256_hex(b"openapi: 3.1.0\n")
    );
    assert_eq!(
        out.uploaded[0].etag,
        &sigv4::sha256_hex(b"openapi: 3.1.0\n")[..32]
    );

    let stored = &s3.objects[&(
        "taylordash-artifacts".to_string(),
        "run-42/docs/my spec+v1.json".to_string(),
    )];
    assert_eq!(stored, &(b"{}\n".to_vec(), "application/json".to_string()));
    assert_eq!(
        s3.objects[&("taylordash-artifacts".into(), "run-42/openapi.yaml".into())].1,
        "application/yaml"
    );

    let req = &s3.requests[1];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.scheme, "http");
    assert_eq!(req.authority, "127.0.0.1:9000");
    assert_eq!(
        req.path,
        "/taylordash-artifacts/run-42/docs/my%20spec%2Bv1.json"
    );
    let names: Vec<_> = req.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "authorization",
            "content-length",
            "content-type",
            "x-amz-content-sha256",
            "x-amz-date"
        ]
    );
    assert_eq!(FakeS3::header(req, "x-amz-date"), Some("20240229T235959Z"));
    assert!(FakeS3::header(req, "authorization").unwrap().starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/s3/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="
    ));
    assert_eq!(
        h.logs(),
        [
            (Level::Info, "uploaded s3://taylordash-artifacts/run-42/openapi.yaml (15 bytes, application/yaml)".to_string()),
            (Level::Info, "uploaded s3://taylordash-artifacts/run-42/docs/my spec+v1.json (3 bytes, application/json)".to_string()),
        ]
    );
}

#[test]
fn without_files_uploads_every_visible_regular_file_sorted() {
    let h = workspace();
    let mut s3 = FakeS3::new().with_bucket("taylordash-artifacts");
    let out = upload(input(base(json!({}))), &mut s3).unwrap();
    let keys: Vec<_> = out.uploaded.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "app/main.py",
            "docs/index.md",
            "docs/my spec+v1.json",
            "openapi.yaml"
        ]
    );
    assert_eq!(s3.objects.len(), 4);
    drop(h);
}

#[test]
fn accepts_the_orchestrators_keys() {
    let h = workspace();
    let mut s3 = FakeS3::new().with_bucket("taylordash-artifacts");
    let v = base(json!({
        "files": ["openapi.yaml"],
        "task": { "run_id": "r1" }, "previous": {}, "feedback": { "failed_gates": [] }, "shared_context": {}
    }));
    let out = upload(input(v), &mut s3).unwrap();
    assert_eq!(out.uploaded[0].key, "openapi.yaml");
    drop(h);
}

#[test]
fn the_same_input_gives_the_same_output() {
    let h = workspace();
    let mut a = FakeS3::new().with_bucket("taylordash-artifacts");
    let mut b = FakeS3::new().with_bucket("taylordash-artifacts");
    let first = upload(input(base(json!({ "prefix": "r" }))), &mut a).unwrap();
    let second = upload(input(base(json!({ "prefix": "r" }))), &mut b).unwrap();
    assert_eq!(first, second);
    assert_eq!(a.requests, b.requests);
    drop(h);
}

#[test]
fn creates_the_bucket_first_and_accepts_one_it_owns() {
    let h = workspace();
    let mut s3 = FakeS3::new();
    upload(
        input(base(
            json!({ "files": ["openapi.yaml"], "create_bucket": true }),
        )),
        &mut s3,
    )
    .unwrap();
    assert_eq!(s3.requests[0].path, "/taylordash-artifacts");
    assert!(s3.requests[0].body.is_empty());
    assert!(s3.buckets.contains_key("taylordash-artifacts"));
    // Again: 409 BucketAlreadyOwnedByYou is fine.
    upload(
        input(base(
            json!({ "files": ["openapi.yaml"], "create_bucket": true }),
        )),
        &mut s3,
    )
    .unwrap();
    assert_eq!(s3.requests.len(), 4);
    assert_eq!(
        h.logs()[2],
        (
            Level::Info,
            "bucket `taylordash-artifacts`: already exists, owned by these credentials"
                .to_string()
        )
    );
}

#[test]
fn a_bucket_owned_by_someone_else_fails() {
    let h = workspace();
    let mut s3 = FakeS3::new().answering(|req| {
        (req.path == "/taylordash-artifacts").then(|| Ok(s3_error(409, "BucketAlreadyExists")))
    });
    let err = upload(input(base(json!({ "create_bucket": true }))), &mut s3).unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.starts_with(
            "bucket `taylordash-artifacts`: PUT http://127.0.0.1:9000/taylordash-artifacts answered 409 BucketAlreadyExists: <?xml")),
        "{err:?}"
    );
    assert_eq!(s3.requests.len(), 1);
    drop(h);
}

#[test]
fn outside_us_east_1_the_bucket_gets_a_location_constraint() {
    let h = workspace();
    let mut s3 = FakeS3::new();
    upload(
        input(base(
            json!({ "region": "eu-west-1", "files": ["openapi.yaml"], "create_bucket": true }),
        )),
        &mut s3,
    )
    .unwrap();
    let create = &s3.requests[0];
    assert_eq!(
        String::from_utf8_lossy(&create.body),
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
    );
    assert_eq!(
        FakeS3::header(create, "content-type"),
        Some("application/xml")
    );
    assert!(
        FakeS3::header(create, "authorization")
            .unwrap()
            .contains("/eu-west-1/s3/aws4_request")
    );
    drop(h);
}

#[test]
fn a_wrong_secret_is_a_failure_naming_key_status_and_body() {
    let h = workspace();
    let mut s3 = FakeS3::new().with_bucket("taylordash-artifacts");
    s3.secret = "another-secret".into();
    let err = upload(input(base(json!({ "files": ["openapi.yaml"] }))), &mut s3).unwrap_err();
    let ToolError::Failed(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.starts_with(
            "key `openapi.yaml` (file `openapi.yaml`): PUT http://127.0.0.1:9000/taylordash-artifacts/openapi.yaml \
                 answered 403 SignatureDoesNotMatch: <?xml version=\"1.0\"?> <Error> <Code>SignatureDoesNotMatch</Code>"
        ),
        "{m}"
    );
    assert!(!m.contains(SECRET));
    drop(h);
}

#[test]
fn a_server_error_is_retryable_and_says_what_was_done() {
    let h = workspace();
    let mut s3 = FakeS3::new()
        .with_bucket("taylordash-artifacts")
        .answering(|req| {
            req.path
                .ends_with("/docs/index.md")
                .then(|| Ok(s3_error(503, "SlowDown")))
        });
    let err = upload(
        input(base(
            json!({ "files": ["openapi.yaml", "docs/index.md", "app/main.py"] }),
        )),
        &mut s3,
    )
    .unwrap_err();
    let ToolError::Retryable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.starts_with("key `docs/index.md` (file `docs/index.md`): PUT http://127.0.0.1:9000/taylordash-artifacts/docs/index.md answered 503 SlowDown: "), "{m}");
    assert!(
        m.ends_with(" (1 of 3 files uploaded before this one)"),
        "{m}"
    );
    assert_eq!(s3.requests.len(), 2);
    drop(h);
}

#[test]
fn a_response_without_etag_fails() {
    let h = workspace();
    let mut s3 = FakeS3::new().answering(|_| Some(Ok(response(200, "hello"))));
    let err = upload(input(base(json!({ "files": ["openapi.yaml"] }))), &mut s3).unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.contains("answered 200 without an ETag")),
        "{err:?}"
    );
    drop(h);
}

#[test]
fn network_errors_map_to_retryable_or_failed_with_the_grant() {
    let h = workspace();
    let mut s3 =
        FakeS3::new().answering(|_| Some(Err(NetError::Transient("ConnectionRefused".into()))));
    let err = upload(input(base(json!({ "files": ["openapi.yaml"] }))), &mut s3).unwrap_err();
    assert_eq!(
        err,
        ToolError::Retryable(
            "key `openapi.yaml` (file `openapi.yaml`): PUT http://127.0.0.1:9000/taylordash-artifacts/openapi.yaml: ConnectionRefused".into()
        )
    );
    let mut s3 =
        FakeS3::new().answering(|_| Some(Err(NetError::Denied("HttpRequestDenied".into()))));
    let err = upload(
        input(base(
            json!({ "endpoint": "https://minio.example", "files": ["openapi.yaml"] }),
        )),
        &mut s3,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.ends_with("the host refused the request (HttpRequestDenied); the plugin needs the grant http: [\"minio.example:443\"]")),
        "{err:?}"
    );
    drop(h);
}

#[test]
fn natively_there_is_no_network() {
    let h = workspace();
    let err = h
        .run::<MinioUploader>(base(json!({ "files": ["openapi.yaml"] })))
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.contains("wasi:http exists only inside the sandbox")),
        "{err:?}"
    );
}

#[test]
fn credentials_from_a_workspace_file_which_is_never_uploaded() {
    let h = workspace();
    h.write_workspace(
        "secrets/s3.json",
        format!(r#"{{"access_key": "{ACCESS}", "secret_key": "{SECRET}"}}"#),
    );
    let mut s3 = FakeS3::new().with_bucket("taylordash-artifacts");
    let v = base(
        json!({ "access_key": null, "secret_key": null, "credentials_file": "secrets/s3.json" }),
    );
    let out = upload(input(v.clone()), &mut s3).unwrap();
    assert!(out.uploaded.iter().all(|u| !u.key.starts_with("secrets/")));
    assert_eq!(out.uploaded.len(), 4);

    let mut listed = v.clone();
    listed["files"] = json!(["openapi.yaml", "secrets/s3.json"]);
    let m = invalid_msg(&h, listed);
    assert_eq!(
        m,
        "files[1]: `secrets/s3.json` is the credentials file; it is never uploaded"
    );
    for (_, line) in h.logs() {
        assert!(!line.contains(SECRET), "{line}");
    }
}

#[test]
fn bad_credentials_files_are_named_without_their_contents() {
    let h = workspace();
    let v = |file: &str| {
        base(json!({ "access_key": null, "secret_key": null, "credentials_file": file }))
    };
    assert!(
        invalid_msg(&h, v("nope.json"))
            .starts_with("credentials_file: cannot read `nope.json`: ")
    );
    h.write_workspace(
        "c1.json",
        format!("{{\"access_key\": \"A\", \"secret_key\": \"{SECRET}"),
    );
    let m = invalid_msg(&h, v("c1.json"));
    assert!(
        m.starts_with("credentials_file: `c1.json` is not JSON (line 1, column "),
        "{m}"
    );
    assert!(!m.contains(SECRET));
    h.write_workspace(
        "c2.json",
        format!("{{\"access_key\": \"A\", \"secret_key\": [\"{SECRET}\"]}}"),
    );
    let m = invalid_msg(&h, v("c2.json"));
    assert_eq!(
        m,
        "credentials_file: `c2.json`: `secret_key` must be a non-empty string"
    );
    h.write_workspace("c3.json", r#"{"access_key": "A"}"#);
    assert_eq!(
        invalid_msg(&h, v("c3.json")),
        "credentials_file: `c3.json`: missing field `secret_key`"
    );
    h.write_workspace("c4.json", r#"["A", "B"]"#);
    assert_eq!(
        invalid_msg(&h, v("c4.json")),
        "credentials_file: `c4.json` must hold a JSON object {access_key, secret_key}"
    );
    assert_eq!(
        invalid_msg(&h, v("../c.json")),
        "credentials_file: `../c.json` must be a workspace-relative path without `..`"
    );
}

#[test]
fn credentials_must_be_complete_and_given_once() {
    let h = workspace();
    assert_eq!(
        invalid_msg(&h, base(json!({ "secret_key": null }))),
        "secret_key: missing (access_key is given)"
    );
    assert_eq!(
        invalid_msg(&h, base(json!({ "access_key": null }))),
        "access_key: missing (secret_key is given)"
    );
    assert_eq!(
        invalid_msg(&h, base(json!({ "access_key": null, "secret_key": null }))),
        "access_key: missing; give access_key and secret_key, or credentials_file"
    );
    assert_eq!(
        invalid_msg(&h, base(json!({ "credentials_file": "c.json" }))),
        "credentials_file: give either access_key/secret_key or credentials_file, not both"
    );
    assert_eq!(
        invalid_msg(&h, base(json!({ "access_key": "AK ID" }))),
        "access_key: the access key must be non-empty, without spaces, `/` or `,`"
    );
    // A parse error names the field, never the secret's value.
    let m = invalid_msg(&h, base(json!({ "secret_key": 7 })));
    assert!(m.starts_with("secret_key"), "{m}");
    let m = invalid_msg(&h, base(json!({ "secret": SECRET })));
    assert!(!m.contains(SECRET), "{m}");
}

#[test]
fn files_are_checked_before_any_request() {
    let h = workspace();
    let files = |f: Value| base(json!({ "files": f }));
    assert!(
        invalid_msg(&h, files(json!(["openapi.yaml", "missing.md"])))
            .starts_with("files[1]: cannot read `missing.md`: ")
    );
    assert_eq!(
        invalid_msg(&h, files(json!(["docs"]))),
        "files[0]: `docs` is not a regular file"
    );
    assert_eq!(
        invalid_msg(&h, files(json!(["/etc/passwd"]))),
        "files[0]: `/etc/passwd` must be a workspace-relative path without `..`"
    );
    assert_eq!(
        invalid_msg(&h, files(json!(["docs/../../x"]))),
        "files[0]: `docs/../../x` must be a workspace-relative path without `..`"
    );
    assert_eq!(
        invalid_msg(&h, files(json!(["openapi.yaml", "./openapi.yaml"]))),
        "files[1]: `openapi.yaml` is listed twice"
    );
    assert_eq!(invalid_msg(&h, files(json!([""]))), "files[0]: empty path");
    assert_eq!(
        invalid_msg(&h, files(json!([]))),
        "files: empty list (leave `files` out to upload the whole workspace)"
    );
    assert!(invalid_msg(&h, files(json!([3]))).starts_with("files[0]: "));
}

#[test]
fn an_empty_workspace_fails() {
    let h = Harness::new();
    h.write_workspace(".hidden", "x");
    let err = upload(input(base(json!({}))), &mut FakeS3::new()).unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "files: the workspace holds no regular, non-hidden file to upload".into()
        )
    );
}

#[test]
fn endpoint_bucket_region_and_prefix_are_validated() {
    let h = workspace();
    let with = |k: &str, v: &str| base(json!({ k: v }));
    for (endpoint, why) in [
        ("127.0.0.1:9000", "is not a URL (want http://host:port)"),
        (
            "ftp://h:21",
            "has an unsupported scheme (want http or https)",
        ),
        (
            "http://h:9000/minio",
            "has a path or query; give scheme://host:port only (requests are path-style)",
        ),
        (
            "http://u:p@h:9000",
            "has user info; give the keys as access_key/secret_key",
        ),
        ("http://h:99999", "has an invalid port"),
        ("http://h:", "has an invalid port"),
        ("http://", "has an invalid host"),
        ("http://h_x:1", "has an invalid host"),
        ("http://[::1", "has an unclosed `[`"),
    ] {
        assert_eq!(
            invalid_msg(&h, with("endpoint", endpoint)),
            format!("endpoint: `{endpoint}` {why}")
        );
    }
    for (bucket, why) in [
        ("ab", "must be 3 to 63 characters"),
        (
            "Artifacts",
            "may hold only lowercase letters, digits, `.` and `-`",
        ),
        ("-abc", "must start and end with a letter or digit"),
        ("a..b", "must not hold `..`"),
        ("10.0.0.1", "must not be an IP address"),
    ] {
        assert_eq!(
            invalid_msg(&h, with("bucket", bucket)),
            format!("bucket: `{bucket}` is not a valid bucket name: it {why}")
        );
    }
    assert_eq!(
        invalid_msg(&h, with("region", "US East")),
        "region: `US East` is not a region name (e.g. us-east-1)"
    );
    assert_eq!(
        invalid_msg(&h, with("prefix", "a//b")),
        "prefix: `a//b` has an empty, `.` or `..` segment"
    );
    assert_eq!(
        invalid_msg(&h, with("prefix", "../up")),
        "prefix: `../up` has an empty, `.` or `..` segment"
    );
    assert!(invalid_msg(&h, base(json!({ "bucket": null }))).contains("bucket"));
    assert!(invalid_msg(&h, base(json!({ "extra": 1 }))).contains("extra"));
}

#[test]
fn endpoints_keep_their_authority_and_know_their_grant() {
    let e = parse_endpoint("HTTP://MinIO.local:9000/").unwrap();
    assert_eq!(
        e,
        Endpoint {
            scheme: "http",
            authority: "minio.local:9000".into(),
            grant: "minio.local:9000".into()
        }
    );
    let e = parse_endpoint("https://s3.example").unwrap();
    assert_eq!(
        (e.authority.as_str(), e.grant.as_str()),
        ("s3.example", "s3.example:443")
    );
    let e = parse_endpoint("http://[::1]:9000").unwrap();
    assert_eq!(
        (e.authority.as_str(), e.grant.as_str(), e.url().as_str()),
        ("[::1]:9000", "[::1]:9000", "http://[::1]:9000")
    );
}

#[test]
fn content_types_follow_extensions() {
    assert_eq!(content_type("openapi.yaml"), "application/yaml");
    assert_eq!(
        content_type("docs/INDEX.MD"),
        "text/markdown; charset=utf-8"
    );
    assert_eq!(content_type("dashboards/api.json"), "application/json");
    assert_eq!(content_type("migrations/001.sql"), "application/sql");
    assert_eq!(content_type("Makefile"), "application/octet-stream");
    assert_eq!(content_type("dir.d/.profile"), "application/octet-stream");
}

#[test]
fn describe_names_the_tool_and_its_schema() {
    let info = taylordash_sdk::describe::<MinioUploader>("0.1.0");
    assert_eq!(info.name, "minio_uploader");
    let schema = &info.input_schema;
    for field in [
        "endpoint",
        "bucket",
        "credentials_file",
        "create_bucket",
        "files",
        "prefix",
    ] {
        assert!(schema.contains(field), "{field}");
    }
}

// -- minio_uploader.json and the skip

fn run_tool(h: &Harness, v: Value) -> Result<UploaderResult, ToolError> {
    h.run::<MinioUploader>(v)
}

#[test]
fn without_endpoint_or_config_file_the_upload_is_skipped_with_a_warning() {
    let h = workspace();
    let out = run_tool(&h, json!({ "task": { "run_id": "r1" }, "previous": {} })).unwrap();
    assert_eq!(
        out,
        UploaderResult::Skipped {
            skipped: SKIPPED.to_string()
        }
    );
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({ "skipped": "no endpoint configured: put minio_uploader.json in the workspace or pass endpoint/bucket/credentials" })
    );
    assert!(
        h.logs()
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.contains(SKIPPED)),
        "{:?}",
        h.logs()
    );
}

#[test]
fn a_partial_configuration_without_the_file_is_an_error() {
    let h = workspace();
    assert_eq!(
        invalid_msg(&h, json!({ "endpoint": "http://127.0.0.1:9000" })),
        "bucket: missing; give it in the input or in minio_uploader.json in the workspace"
    );
    assert_eq!(
        invalid_msg(
            &h,
            json!({ "bucket": "b-1", "access_key": ACCESS, "secret_key": SECRET })
        ),
        "endpoint: missing; give it in the input or in minio_uploader.json in the workspace"
    );
}

#[test]
fn the_config_file_fills_what_the_input_leaves_out_and_is_never_uploaded() {
    let h = workspace();
    h.write_workspace(
        CONFIG_FILE,
        serde_json::to_string(&json!({
            "endpoint": "http://127.0.0.1:9000",
            "bucket": "from-file",
            "access_key": ACCESS,
            "secret_key": SECRET,
            "prefix": "run-1",
        }))
        .unwrap(),
    );
    let full = configure(input(json!({ "bucket": "from-input" })))
        .unwrap()
        .unwrap();
    assert_eq!(full.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(full.bucket.as_deref(), Some("from-input"));
    assert_eq!(full.access_key.as_deref(), Some(ACCESS));
    assert_eq!(full.prefix, "run-1");

    let mut s3 = FakeS3::new().with_bucket("from-file");
    let full = configure(input(json!({ "previous": null })))
        .unwrap()
        .unwrap();
    let out = upload(full, &mut s3).unwrap();
    assert_eq!(out.bucket, "from-file");
    let keys: Vec<&str> = out.uploaded.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "run-1/app/main.py",
            "run-1/docs/index.md",
            "run-1/docs/my spec+v1.json",
            "run-1/openapi.yaml"
        ]
    );
    // Listing it explicitly is refused.
    let full = configure(input(json!({ "files": [CONFIG_FILE] })))
        .unwrap()
        .unwrap();
    assert_eq!(
        upload(full, &mut FakeS3::new().with_bucket("from-file")).unwrap_err(),
        ToolError::InvalidInput(
            "files[0]: `minio_uploader.json` is the uploader's configuration; it is never uploaded"
                .into()
        )
    );
}

#[test]
fn input_credentials_win_over_the_config_files() {
    let h = workspace();
    h.write_workspace(
        CONFIG_FILE,
        r#"{"endpoint": "http://127.0.0.1:9000", "bucket": "b-1", "credentials_file": "creds.json"}"#,
    );
    let full = configure(input(
        json!({ "access_key": "AKIDOTHER", "secret_key": "s" }),
    ))
    .unwrap()
    .unwrap();
    assert_eq!(full.access_key.as_deref(), Some("AKIDOTHER"));
    assert_eq!(full.credentials_file, None);
    let full = configure(input(json!({}))).unwrap().unwrap();
    assert_eq!(full.credentials_file.as_deref(), Some("creds.json"));
    assert_eq!(full.access_key, None);
}

#[test]
fn a_bad_config_file_is_named_without_its_contents() {
    let h = workspace();
    h.write_workspace(CONFIG_FILE, "{ not json");
    let m = invalid_msg(&h, json!({}));
    assert!(
        m.starts_with("minio_uploader.json: not JSON (line 1, column "),
        "{m}"
    );
    h.write_workspace(CONFIG_FILE, r#"{"endpoint": "http://h:1", "colour": 1}"#);
    assert!(
        invalid_msg(&h, json!({})).starts_with("minio_uploader.json: unknown field `colour`")
    );
    h.write_workspace(CONFIG_FILE, format!(r#"{{"create_bucket": "{SECRET}"}}"#));
    let m = invalid_msg(&h, json!({}));
    assert!(
        m.starts_with("minio_uploader.json: a value has the wrong type"),
        "{m}"
    );
    assert!(!m.contains(SECRET));
}
