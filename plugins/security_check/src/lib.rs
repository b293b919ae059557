//! `security_check`: the validation stage's security gate. A failing
//! security gate halts the run for human review (the seed's
//! `security_violations: any security gate failure`).
//!
//! Every finding with its file and `line:col`:
//!
//! 1. **Secrets** in any text file of the workspace (hidden directories,
//!    caches and virtualenvs skipped): AWS access key ids and secret keys,
//!    private key blocks, GitHub/Slack/Stripe tokens, credentials in URLs,
//!    and passwords, secrets, API keys and tokens assigned string literals in
//!    code (and plain values in YAML/INI/.env files). Values are redacted in
//!    messages; AWS's documented `…EXAMPLE` keys and lines marked
//!    `security_check: allow` are skipped.
//! 2. **Authentication**: every mutating operation (POST, PUT, PATCH, DELETE)
//!    of `openapi.yaml` has a non-empty security requirement naming declared
//!    schemes, and every mutating route of the app (`@router.post(…)` etc.
//!    under `app/`) depends on an authentication dependency.
//! 3. **Transport**: the app sets `Strict-Transport-Security` with a max-age
//!    of at least a year and `includeSubDomains`, installs it from
//!    `app/main.py`; no plaintext URL (`http://`, `mqtt://`, `ws://`…) and
//!    no `sslmode=disable` in app code; an MQTT client configures TLS;
//!    `openapi.yaml` servers use https. When the workspace holds the Traefik
//!    snippet (`conf_snippets/traefik/dynamic.yml`, `traefik_hsts`): every
//!    `headers` middleware that sets `stsSeconds` sets at least a year and
//!    `stsIncludeSubdomains`, and every TLS router goes through one.
//!
//! Returns `{ passed, findings, checked, summary }`.

use regex_lite::Regex;
use serde_json::Value;
use service_model::locate::{self, Locations};
use service_model::{Finding, GateInput, GateOutput, finish_gate, line_col, paths, source};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

mod checks;
pub use checks::*;

pub struct SecurityCheck;

impl Tool for SecurityCheck {
    const NAME: &'static str = "security_check";
    const DESCRIPTION: &'static str = "Gate: no secrets in the artifacts, every mutating endpoint requires \
         authentication (OpenAPI and app routes), HSTS and TLS settings present in the app.";
    type Input = GateInput;
    type Output = GateOutput;

    fn run(_input: GateInput, cx: &Context) -> Result<GateOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        let mut c = Check { findings: Vec::new(), checked: Vec::new() };
        let files = c.secrets();
        c.openapi();
        c.app_routes();
        c.transport();
        c.traefik();
        finish_gate(Self::NAME, c.findings, c.checked, &format!("no secrets in {files} files, auth on every mutation, HSTS and TLS"))
    }
}

export_tool!(SecurityCheck);

#[cfg(test)]
mod tests;
