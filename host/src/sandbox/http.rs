//! Outgoing HTTP (wasi:http), only to granted `host:port` pairs.
//!
//! Every request is checked here, before a connection is made: its
//! authority must be granted by name. A granted host *name* is resolved
//! once; every address of that answer that is loopback, private, link-local
//! (cloud metadata, 169.254.169.254, among them) or otherwise internal is
//! refused and recorded as a denial naming the host, the port and the
//! address, and the connection goes to exactly the addresses that passed, in
//! the resolver's order. Nothing resolves the name again, so a resolver that
//! answers differently the second time (DNS rebinding) has nothing to
//! answer. Internal addresses are reachable only when the request and its
//! grant name the IP literal itself. `https` is verified against the host
//! name with the webpki roots, as wasmtime-wasi-http's own sender does.
//! Redirects are not followed by the host: a guest that follows one makes a
//! new request, checked again. Connect, first-byte and between-bytes
//! timeouts bound every request, and request and response bodies are cut
//! off past `max_body` bytes (the plugin's `http_body` quota), each breach a
//! denial.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::capabilities::{Denial, Denials, HttpGrant, record};

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
                || v4.octets()[0] == 0 // "this network": Linux connects 0.0.0.0/8 to the host itself
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

/// Connect to `host:port`, resolving a name exactly once.
///
/// An IP literal is the address itself: its grant named it, so it is not
/// filtered. A name is given to `resolve` (an `FnOnce`: there is no second
/// lookup to race), each internal address of the answer goes to `refused`
/// and is dropped, and `connect` is tried on the remaining addresses in the
/// answer's order until one succeeds. No other address is ever connected to.
pub(crate) async fn connect_checked<S, R, RF, C, CF>(
    host: &str,
    port: u16,
    resolve: R,
    mut connect: C,
    mut refused: impl FnMut(SocketAddr),
) -> Result<S, HttpError>
where
    R: FnOnce(String, u16) -> RF,
    RF: Future<Output = std::io::Result<Vec<SocketAddr>>>,
    C: FnMut(SocketAddr) -> CF,
    CF: Future<Output = std::io::Result<S>>,
{
    let checked = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let answer = resolve(host.to_string(), port).await.map_err(|e| {
                tracing::debug!(host, error = %e, "lookup failed");
                HttpError::DnsError { rcode: None, info_code: None }
            })?;
            let mut allowed = Vec::with_capacity(answer.len());
            let mut any_refused = false;
            for addr in answer {
                // The answer's port is the one asked for; set it anyway, so
                // the checked address is exactly the one connected to.
                let addr = SocketAddr::new(addr.ip(), port);
                if internal(addr.ip()) {
                    any_refused = true;
                    refused(addr);
                } else if !allowed.contains(&addr) {
                    allowed.push(addr);
                }
            }
            if allowed.is_empty() {
                return Err(if any_refused { HttpError::DestinationIpProhibited } else { HttpError::DestinationNotFound });
            }
            allowed
        }
    };
    let mut last = None;
    for addr in checked {
        match connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                tracing::debug!(host, %addr, error = %e, "connect failed; trying the next address");
                last = Some(e);
            }
        }
    }
    Err(last.map_or(HttpError::DestinationNotFound, HttpError::Connect))
}

/// A connection the HTTP/1 handshake runs over: plain TCP or TLS on it.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The client TLS setup of wasmtime-wasi-http's default sender (webpki
/// roots, no client certificate), with the ring provider named rather than
/// taken from the process-wide default, which another part of the process
/// may or may not have installed.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, HttpError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    match config {
        Ok(c) => Ok(tokio_rustls::TlsConnector::from(c.clone())),
        Err(e) => Err(HttpError::InternalError(Some(format!("TLS configuration: {e}")))),
    }
}

/// A response body whose frames must each arrive within `timeout` of the
/// previous one (wasmtime-wasi-http's `between_bytes_timeout`, which its
/// crate keeps private).
struct Incoming {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl Body for Incoming {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(if e.is_timeout() { HttpError::HttpResponseTimeout } else { HttpError::from(e) })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// Send `request` over `stream` (already connected to a checked address):
/// TLS when https, then HTTP/1, as wasmtime-wasi-http's default sender does
/// once it has a connection.
async fn exchange(
    mut request: http::Request<WasiBody>,
    stream: TcpStream,
    host: &str,
    timeout: Duration,
) -> Result<(http::Response<Incoming>, impl Future<Output = Result<(), HttpError>> + Send + use<>), HttpError> {
    let stream: Box<dyn Stream> = if request.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
        let name = rustls::pki_types::ServerName::try_from(host)?.to_owned();
        let tls = tokio::time::timeout(timeout, tls_connector()?.connect(name, stream))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(HttpError::Tls)?;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(timeout, hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    // The request line names the path only: scheme and authority belong to
    // proxies (the Host header, which wasi:http set, names the host).
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let send = async move {
        let res = tokio::time::timeout(timeout, sender.send_request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)??;
        let mut between = tokio::time::interval(timeout.max(Duration::from_nanos(1)));
        between.reset();
        Ok::<_, HttpError>(res.map(|incoming| Incoming { incoming, timeout: between }))
    };
    let mut send = pin!(send);
    let mut conn = Some(conn);
    // Drive the connection while waiting for the response head; what is
    // left of it (the body) is driven by the returned future.
    let res = poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => {
            let Some(c) = conn.as_mut() else { return Poll::Pending };
            let done = ready!(Pin::new(c).poll(cx));
            conn = None;
            match done {
                Ok(()) => send.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(HttpError::from(e))),
            }
        }
    })
    .await?;
    Ok((res, async move {
        match conn {
            None => Ok(()),
            Some(c) => c.await.map_err(|e| if e.is_timeout() { HttpError::HttpResponseTimeout } else { e.into() }),
        }
    }))
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
        let Some(grant) = self.grant.clone().filter(|g| g.allowed.contains(&target)) else {
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
            let refused = |addr: SocketAddr| {
                let detail = format!(
                    "{what}: host `{host}` port {port} resolves to internal address {}; plugin `{plugin}` may reach it only by a request and grant naming the address (`{addr}`)",
                    addr.ip()
                );
                record(&denials, Denial { capability: "http", detail });
            };
            let lookup = |name: String, port: u16| async move { tokio::net::lookup_host((name, port)).await.map(Iterator::collect) };
            // Resolving and connecting share the connect timeout, as in
            // wasmtime-wasi-http's sender (which resolves inside its connect).
            let stream = tokio::time::timeout(grant.timeout, connect_checked(&host, port, lookup, TcpStream::connect, refused))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)??;
            let (res, io) = exchange(request, stream, &host, grant.timeout).await?;
            let detail = format!("{what}: the response body exceeds plugin `{plugin}`'s http_body quota ({max} bytes)");
            let res = res.map(|body| limited(body.boxed_unsync(), max, HttpError::HttpResponseBodySize(Some(max)), &denials, detail));
            Ok((res, Box::new(io) as Io))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use super::{HttpError, connect_checked, internal};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    /// A resolver whose answers change from one lookup to the next, as a
    /// rebinding attacker's DNS server does; it counts its lookups.
    #[derive(Clone, Default)]
    struct Rebinding {
        answers: Arc<Mutex<Vec<Vec<SocketAddr>>>>,
        lookups: Arc<Mutex<Vec<String>>>,
    }

    impl Rebinding {
        fn new(answers: &[&[&str]]) -> Self {
            let answers = answers.iter().map(|a| a.iter().map(|s| s.parse().unwrap()).collect()).collect();
            Rebinding { answers: Arc::new(Mutex::new(answers)), lookups: Arc::default() }
        }

        fn resolve(&self) -> impl FnOnce(String, u16) -> std::future::Ready<std::io::Result<Vec<SocketAddr>>> + use<> {
            let me = self.clone();
            move |name, port| {
                me.lookups.lock().unwrap().push(format!("{name}:{port}"));
                let mut answers = me.answers.lock().unwrap();
                std::future::ready(Ok(if answers.is_empty() { Vec::new() } else { answers.remove(0) }))
            }
        }
    }

    /// A connector that records every address and answers with `ok` for one of them.
    fn connector(
        tried: &Arc<Mutex<Vec<SocketAddr>>>,
        ok: Option<&str>,
    ) -> impl FnMut(SocketAddr) -> std::future::Ready<std::io::Result<SocketAddr>> + use<> {
        let tried = tried.clone();
        let ok: Option<SocketAddr> = ok.map(|s| s.parse().unwrap());
        move |addr| {
            tried.lock().unwrap().push(addr);
            std::future::ready(if Some(addr) == ok { Ok(addr) } else { Err(std::io::ErrorKind::ConnectionRefused.into()) })
        }
    }

    #[test]
    fn the_connection_goes_to_the_checked_answer_never_a_second_one() {
        // First answer public, every later one loopback: the classic rebind.
        let dns = Rebinding::new(&[&["203.0.113.7:80"], &["127.0.0.1:80"], &["127.0.0.1:80"]]);
        let tried = Arc::default();
        let mut refused = Vec::new();
        let out = block_on(connect_checked("rebind.example", 80, dns.resolve(), connector(&tried, Some("203.0.113.7:80")), |a| refused.push(a)));
        assert_eq!(out.unwrap(), "203.0.113.7:80".parse::<SocketAddr>().unwrap());
        assert_eq!(*dns.lookups.lock().unwrap(), ["rebind.example:80"], "resolved exactly once");
        assert_eq!(*tried.lock().unwrap(), ["203.0.113.7:80".parse::<SocketAddr>().unwrap()]);
        assert!(refused.is_empty());

        // Even when that address does not answer, nothing is looked up again.
        let dns = Rebinding::new(&[&["203.0.113.7:80"], &["127.0.0.1:80"]]);
        let tried = Arc::default();
        let out = block_on(connect_checked("rebind.example", 80, dns.resolve(), connector(&tried, None), |_| {}));
        assert!(matches!(out, Err(HttpError::Connect(_))), "{out:?}");
        assert_eq!(dns.lookups.lock().unwrap().len(), 1);
        assert_eq!(*tried.lock().unwrap(), ["203.0.113.7:80".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn internal_addresses_of_a_name_are_refused_and_the_rest_tried_in_order() {
        let dns = Rebinding::new(&[&["127.0.0.1:8080", "203.0.113.7:8080", "169.254.169.254:8080", "198.51.100.9:8080", "[fd00::1]:8080"]]);
        let tried = Arc::default();
        let mut refused = Vec::new();
        let out = block_on(connect_checked("mixed.example", 8080, dns.resolve(), connector(&tried, Some("198.51.100.9:8080")), |a| refused.push(a)));
        assert_eq!(out.unwrap(), "198.51.100.9:8080".parse::<SocketAddr>().unwrap());
        let addrs = |l: &[&str]| l.iter().map(|s| s.parse::<SocketAddr>().unwrap()).collect::<Vec<_>>();
        assert_eq!(*tried.lock().unwrap(), addrs(&["203.0.113.7:8080", "198.51.100.9:8080"]));
        assert_eq!(refused, addrs(&["127.0.0.1:8080", "169.254.169.254:8080", "[fd00::1]:8080"]));

        // Nothing but internal addresses: refused, and no connection at all.
        let dns = Rebinding::new(&[&["127.0.0.1:80", "[::1]:80"]]);
        let tried = Arc::default();
        let mut refused = Vec::new();
        let out = block_on(connect_checked("localhost", 80, dns.resolve(), connector(&tried, None), |a| refused.push(a)));
        assert!(matches!(out, Err(HttpError::DestinationIpProhibited)), "{out:?}");
        assert!(tried.lock().unwrap().is_empty());
        assert_eq!(refused.len(), 2);
    }

    #[test]
    fn an_ip_literal_is_its_own_address_and_is_not_resolved() {
        let dns = Rebinding::new(&[&["203.0.113.7:80"]]);
        let tried = Arc::default();
        let out = block_on(connect_checked("127.0.0.1", 9, dns.resolve(), connector(&tried, Some("127.0.0.1:9")), |_| panic!("refused")));
        assert_eq!(out.unwrap(), "127.0.0.1:9".parse::<SocketAddr>().unwrap());
        assert!(dns.lookups.lock().unwrap().is_empty());
        let out = block_on(connect_checked("::1", 9, dns.resolve(), connector(&tried, Some("[::1]:9")), |_| panic!("refused")));
        assert_eq!(out.unwrap(), "[::1]:9".parse::<SocketAddr>().unwrap());
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.169.254", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "0.1.2.3"] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2606:4700::1111"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
