//! `http_client`: a plugin's only ways out — a wall clock and one HTTP
//! exchange at a time.
//!
//! In the component, [`Sandbox`] (and [`Bounded`], which keeps more of a
//! response body) uses `wasi:clocks` (through `SystemTime`) and
//! `wasi:http/outgoing-handler`; the host lets a request through only to a
//! `host:port` the plugin was granted. Natively there is no network: tests
//! pass their own [`Net`].
//!
//! Shared by `minio_uploader` (S3 PUTs) and `mcp_client` (the Model Context
//! Protocol's streamable HTTP transport). A library, not a plugin: it lives
//! under `toolkit/`.

/// One HTTP request, fully formed: the path is already encoded and signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]`; the host derives the `Host` header from it.
    pub authority: String,
    pub path: String,
    /// Lowercase names; no `host` (the sandbox forbids setting it).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response: status, headers (names lowercased) and the body (cut at the
/// client's bound: [`MAX_RESPONSE_BODY`] for [`Sandbox`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How much of a response body [`Sandbox`] keeps; S3 answers PUTs with small
/// XML. [`Bounded`] keeps another amount.
pub const MAX_RESPONSE_BODY: usize = 64 << 10;

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// The host refused the request: the destination is not granted.
    Denied(String),
    /// Connection refused or reset, DNS or timeout: worth retrying.
    Transient(String),
    /// Anything else (a malformed request, TLS certificate, protocol error).
    Failed(String),
}

/// A clock and an HTTP client.
pub trait Net {
    /// Seconds since the Unix epoch, UTC.
    fn now_unix(&self) -> Result<u64, String>;
    /// Send `req` and wait for the whole response.
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, NetError>;
}

/// The sandbox's clock and `wasi:http`, keeping [`MAX_RESPONSE_BODY`] bytes
/// of a response body.
pub struct Sandbox;

/// The sandbox's clock and `wasi:http`, keeping at most `.0` bytes of a
/// response body (the rest is not read). A caller that must not act on a
/// cut body asks for one byte more than it accepts and refuses a body of
/// that length.
pub struct Bounded(pub usize);

fn system_now() -> Result<u64, String> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| "the wall clock reads before 1970".to_string())
}

impl Net for Sandbox {
    fn now_unix(&self) -> Result<u64, String> {
        system_now()
    }

    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, NetError> {
        send(req, MAX_RESPONSE_BODY)
    }
}

impl Net for Bounded {
    fn now_unix(&self) -> Result<u64, String> {
        system_now()
    }

    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, NetError> {
        send(req, self.0)
    }
}

#[cfg(target_arch = "wasm32")]
fn send(req: &HttpRequest, max_body: usize) -> Result<HttpResponse, NetError> {
    wasi_http::send(req, max_body)
}

#[cfg(not(target_arch = "wasm32"))]
fn send(req: &HttpRequest, _max_body: usize) -> Result<HttpResponse, NetError> {
    Err(NetError::Failed(format!(
        "{} {}://{}{}: wasi:http exists only inside the sandbox (native builds have no network)",
        req.method, req.scheme, req.authority, req.path
    )))
}

#[cfg(target_arch = "wasm32")]
mod wasi_http {
    use std::io::Write as _;

    use wasi::http::outgoing_handler;
    use wasi::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
    };
    use wasi::io::streams::StreamError;

    use super::{HttpRequest, HttpResponse, NetError};

    fn classify(code: &ErrorCode) -> NetError {
        let text = format!("{code:?}");
        match code {
            ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
                NetError::Denied(text)
            }
            ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTerminated
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::ConnectionLimitReached
            | ErrorCode::HttpResponseIncomplete
            | ErrorCode::HttpResponseTimeout => NetError::Transient(text),
            _ => NetError::Failed(text),
        }
    }

    fn failed(what: &str) -> NetError {
        NetError::Failed(format!("wasi:http: {what}"))
    }

    pub fn send(req: &HttpRequest, max_body: usize) -> Result<HttpResponse, NetError> {
        let entries: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        let headers =
            Fields::from_list(&entries).map_err(|e| failed(&format!("header rejected: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let method = match req.method {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_string()),
        };
        request.set_method(&method).map_err(|()| failed("method"))?;
        let scheme = if req.scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| failed("scheme"))?;
        request
            .set_authority(Some(&req.authority))
            .map_err(|()| failed("authority"))?;
        request
            .set_path_with_query(Some(&req.path))
            .map_err(|()| failed("path"))?;
        let body = request.body().map_err(|()| failed("request body"))?;

        // Send first, then stream the body: the host buffers one chunk only.
        let pending = outgoing_handler::handle(request, None).map_err(|e| classify(&e))?;
        let mut write_error = None;
        {
            let mut stream = body.write().map_err(|()| failed("request body stream"))?;
            if let Err(e) = stream
                .write_all(&req.body)
                .and_then(|()| std::io::Write::flush(&mut stream))
            {
                write_error = Some(e.to_string());
            }
        }
        if let Err(e) = OutgoingBody::finish(body, None) {
            write_error.get_or_insert(format!("{e:?}"));
        }

        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => {
                return Err(match (classify(&code), write_error) {
                    (NetError::Failed(m), Some(w)) => {
                        NetError::Transient(format!("{m} (sending the body: {w})"))
                    }
                    (other, _) => other,
                });
            }
            Some(Err(())) | None => return Err(failed("no response")),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let incoming = response.consume().map_err(|()| failed("response body"))?;
        let mut bytes = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| failed("response body stream"))?;
            loop {
                match stream.blocking_read(16 << 10) {
                    Ok(chunk) => {
                        let room = max_body.saturating_sub(bytes.len());
                        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if room == 0 {
                            break;
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(NetError::Transient(format!(
                            "reading the response: {}",
                            e.to_debug_string()
                        )));
                    }
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(HttpResponse {
            status,
            headers,
            body: bytes,
        })
    }
}
