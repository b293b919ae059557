//! The tool's only ways out: a wall clock and one HTTP exchange at a time,
//! from the `http_client` toolkit crate (shared with the MCP clients).
//!
//! In the component, [`Sandbox`] uses `wasi:clocks` and
//! `wasi:http/outgoing-handler`, keeping [`MAX_RESPONSE_BODY`] bytes of a
//! response (S3 answers PUTs with small XML); the host lets a request
//! through only to a `host:port` the plugin was granted. Natively there is no
//! network: tests pass their own [`Net`].

pub use http_client::{HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Net, NetError, Sandbox};
