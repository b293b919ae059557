//! Outgoing HTTP (wasi:http), only to granted `host:port` pairs.
//!
//! Every request is checked here, before a connection is made: its
//! authority must be granted by name. A granted host *name* that resolves to
//! a loopback, private, link-local or otherwise internal address is refused
//! (SSRF, DNS rebinding); internal addresses are reachable only when the grant
//! names the IP literal itself. Redirects are not followed by the host: a
//! guest that follows one makes a new request, checked again. Connect,
//! first-byte and between-bytes timeouts bound every request, and request
//! and response bodies are cut off past `max_body` bytes (the plugin's
//! `http_body` quota), each breach a denial.
//!
//! Known gap: the name is resolved again when connecting, so a resolver that
//! answers differently the second time is not caught here.

use std::net::IpAddr;
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::capabilities::{Denial, Denials, record};

/// The `http` grant: which `host:port` pairs, with what limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrant {
    pub allowed: Vec<String>,
    pub timeout: Duration,
    /// The largest request or response body, in bytes.
    pub max_body: u64,
}

/// The default `http_body` quota.
pub const MAX_BODY: u64 = 16 << 20;

/// `body`, failing with `too_large` (and a recorded denial) past `max` bytes.
fn limited(body: WasiBody, max: u64, too_large: HttpError, denials: &Denials, detail: String) -> WasiBody {
    let denials = denials.clone();
    let mut too_large = Some(too_large);
    Limited::new(body, usize::try_from(max).unwrap_or(usize::MAX))
        .map_err(move |e| match e.downcast::<HttpError>() {
            Ok(inner) => *inner,
            Err(e) if e.is::<LengthLimitError>() => {
                record(&denials, Denial { capability: "http", detail: detail.clone() });
                too_large.take().unwrap_or(HttpError::HttpProtocolError)
            }
            Err(_) => HttpError::HttpProtocolError,
        })
        .boxed_unsync()
}

/// The wasi:http hooks of one call.
pub struct HttpHooks {
    pub(crate) grant: Option<HttpGrant>,
    pub(crate) denials: Denials,
    pub(crate) plugin: String,
}

fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link-local
                || v6.to_ipv4_mapped().is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

type Io = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), HttpError>> + Send>;

fn refuse(error: HttpError) -> Sent {
    Box::new(async move { Err(error) })
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Sent {
        _ = fut;
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let Some(grant) = self.grant.clone().filter(|g| g.allowed.iter().any(|a| *a == target)) else {
            let granted = self.grant.as_ref().map(|g| g.allowed.join(", ")).unwrap_or_default();
            let detail = format!(
                "{} {uri}: `{target}` is not granted to plugin `{}` (granted: {})",
                request.method(),
                self.plugin,
                if granted.is_empty() { "none" } else { &granted }
            );
            record(&self.denials, Denial { capability: "http", detail });
            return refuse(HttpError::HttpRequestDenied);
        };
        tracing::info!(target: "taylordash::audit", plugin = %self.plugin, capability = "http",
            %target, decision = "allow", "capability granted");
        let denials = self.denials.clone();
        let plugin = self.plugin.clone();
        let max = grant.max_body;
        let what = format!("{} {uri}", request.method());
        let request = request.map(|body| {
            let detail = format!("{what}: the request body exceeds plugin `{plugin}`'s http_body quota ({max} bytes)");
            limited(body, max, HttpError::HttpRequestBodySize(Some(max)), &denials, detail)
        });
        Box::new(async move {
            if host.parse::<IpAddr>().is_err() {
                let addrs = tokio::net::lookup_host(&target)
                    .await
                    .map_err(|_| HttpError::DnsError { rcode: None, info_code: None })?;
                if let Some(bad) = addrs.map(|a| a.ip()).find(|ip| internal(*ip)) {
                    let detail = format!(
                        "`{target}` resolves to internal address {bad}; plugin `{plugin}` may reach it only by a grant naming the address"
                    );
                    record(&denials, Denial { capability: "http", detail });
                    return Err(HttpError::DestinationIpProhibited);
                }
            }
            let options = RequestOptions {
                connect_timeout: Some(grant.timeout),
                first_byte_timeout: Some(grant.timeout),
                between_bytes_timeout: Some(grant.timeout),
            };
            let (res, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let detail = format!("{what}: the response body exceeds plugin `{plugin}`'s http_body quota ({max} bytes)");
            let res = res.map(|body| limited(body.boxed_unsync(), max, HttpError::HttpResponseBodySize(Some(max)), &denials, detail));
            Ok((res, Box::new(io) as Io))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::internal;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.169.254", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2606:4700::1111"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
