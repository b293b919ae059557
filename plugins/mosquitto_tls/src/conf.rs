//! What `mosquitto_tls` writes beside the certificates (in `pki.rs`): the
//! input checks, `mosquitto.conf`, the topic ACLs and the README.

use std::net::IpAddr;

use super::*;

pub const CONF_FILE: &str = "mosquitto.conf";
pub const ACL_FILE: &str = "acl";
/// Made by the operator with `mosquitto_passwd`, never by the tool.
pub const PASSWORD_FILE: &str = "passwd";
pub const README_FILE: &str = "README.md";
pub const DEFAULT_PORT: u16 = 8883;
pub const DEFAULT_HOST: &str = "mosquitto";
pub const DEFAULT_CONFIG_DIR: &str = "/mosquitto/config";
/// The oldest TLS version the listener accepts (Mosquitto's `tls_version` is a floor since 2.0).
pub const TLS_VERSION: &str = "tlsv1.2";
pub const GITIGNORE: &str = "# Private keys and the password file are secrets: never commit them.\n*.key\npasswd\n";

/// The checked inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host: String,
    pub config_dir: String,
    pub port: u16,
}

impl Settings {
    pub fn from_input(input: &MosquittoInput) -> Result<Settings, ToolError> {
        let host = match input.host.as_deref() {
            Some(h) => check_host(h)?,
            None => DEFAULT_HOST.to_string(),
        };
        let config_dir = match input.config_dir.as_deref() {
            Some(d) => check_config_dir(d)?,
            None => DEFAULT_CONFIG_DIR.to_string(),
        };
        let port = input.port.unwrap_or(DEFAULT_PORT);
        if port == 0 {
            return Err(ToolError::InvalidInput("port: 0 is not a port (1 to 65535)".into()));
        }
        Ok(Settings { host, config_dir, port })
    }

    /// The server certificate's SANs: `localhost`, `127.0.0.1`, the host (once each).
    pub fn sans(&self) -> Vec<String> {
        let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        if !sans.contains(&self.host) {
            sans.push(self.host.clone());
        }
        sans
    }

    /// `<config_dir>/<name>`.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.config_dir.trim_end_matches('/'))
    }
}

/// A DNS host name (labels of letters, digits and `-`, lower-cased) or an IP address.
pub fn check_host(host: &str) -> Result<String, ToolError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let dns = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !dns {
        return Err(ToolError::InvalidInput(format!(
            "host: `{host}` is neither a DNS host name (labels of letters, digits and `-`, separated by `.`) nor an IP address"
        )));
    }
    Ok(host.to_ascii_lowercase())
}

/// An absolute path Mosquitto can read from its configuration: no spaces
/// (a value ends at the line's end, but a path with spaces invites mistakes),
/// no control characters, no `..`.
pub fn check_config_dir(dir: &str) -> Result<String, ToolError> {
    let ok = dir.starts_with('/')
        && !dir.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#')
        && !dir.split('/').any(|part| part == "..");
    if !ok {
        return Err(ToolError::InvalidInput(format!(
            "config_dir: `{dir}` must be an absolute path without spaces, `#` or `..`"
        )));
    }
    let trimmed = dir.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() })
}

/// `tracker/events/{project_id}` → `tracker/events/+`: a level holding a
/// placeholder matches any one level.
pub fn topic_filter(template: &str) -> String {
    template.split('/').map(|level| if level.contains('{') { "+" } else { level }).collect::<Vec<_>>().join("/")
}

/// The ACL: one topic filter per event type.
#[derive(Debug, Clone, PartialEq)]
pub struct Acl {
    pub publisher: String,
    pub reader: String,
    pub topics: Vec<String>,
    /// `(event type, template)` per filter, for the comments.
    pub sources: Vec<(String, String)>,
}

impl Acl {
    pub fn new(model: &ServiceModel) -> Acl {
        let prefix = user_prefix(model);
        let mut topics = Vec::new();
        let mut sources = Vec::new();
        for e in &model.events {
            // Topics come from backlog words; a filter with spaces or control
            // characters could not be one ACL line.
            if e.topic.is_empty() || e.topic.chars().any(|c| c.is_whitespace() || c.is_control()) {
                taylordash_sdk::log(Level::Warn, &format!("mosquitto_tls: event `{}`: topic `{}` skipped (not one MQTT topic)", e.name, e.topic.escape_debug()));
                continue;
            }
            let filter = topic_filter(&e.topic);
            if !topics.contains(&filter) {
                topics.push(filter);
                sources.push((e.name.clone(), e.topic.clone()));
            }
        }
        Acl { publisher: format!("{prefix}-api"), reader: format!("{prefix}-reader"), topics, sources }
    }

    pub fn users(&self) -> Vec<AclUser> {
        vec![
            AclUser { name: self.publisher.clone(), access: "write".into(), topics: self.topics.clone() },
            AclUser { name: self.reader.clone(), access: "read".into(), topics: self.topics.clone() },
        ]
    }

    /// The `acl_file`: no anonymous section; a user block each.
    pub fn text(&self, model: &ServiceModel) -> String {
        let mut s = format!(
            "# Mosquitto topic ACLs for {}: generated by mosquitto_tls from {}.\n\
             # Anonymous clients are refused (allow_anonymous false); users log in with the\n\
             # passwords of the password_file. Whatever is not granted here is denied.\n",
            model.service.title, model.source
        );
        for (name, template) in &self.sources {
            s.push_str(&format!("#   {} ← event `{name}` ({template})\n", topic_filter(template)));
        }
        s.push_str(&format!("\n# The API publishes its events (app/events.py with MQTT_USERNAME={}).\nuser {}\n", self.publisher, self.publisher));
        for t in &self.topics {
            s.push_str(&format!("topic write {t}\n"));
        }
        s.push_str(&format!("\n# Consumers subscribe to them.\nuser {}\n", self.reader));
        for t in &self.topics {
            s.push_str(&format!("topic read {t}\n"));
        }
        s
    }
}

/// `mosquitto.conf`: global security settings, then the one TLS listener.
pub fn mosquitto_conf(model: &ServiceModel, s: &Settings, acl: &Acl) -> String {
    format!(
        "# Mosquitto 2.x configuration for {title}: generated by mosquitto_tls from {source}.\n\
         # One listener, TLS only: there is no plaintext port. Mount this directory at\n\
         # {dir} (the paths below). Before the first start, create the password\n\
         # file (it is not generated: see README.md):\n\
         #   mosquitto_passwd -c {passwd} {publisher}\n\
         #   mosquitto_passwd {passwd} {reader}\n\
         \n\
         per_listener_settings false\n\
         allow_anonymous false\n\
         password_file {passwd}\n\
         acl_file {acl_path}\n\
         \n\
         listener {port}\n\
         protocol mqtt\n\
         cafile {ca}\n\
         certfile {cert}\n\
         keyfile {key}\n\
         tls_version {TLS_VERSION}\n\
         require_certificate false\n",
        title = model.service.title,
        source = model.source,
        dir = s.config_dir,
        passwd = s.path(PASSWORD_FILE),
        publisher = acl.publisher,
        reader = acl.reader,
        acl_path = s.path(ACL_FILE),
        port = s.port,
        ca = s.path(pki::CA_CERT),
        cert = s.path(pki::SERVER_CERT),
        key = s.path(pki::SERVER_KEY),
    )
}

/// What the directory holds, which files are secrets, how to start the broker
/// and connect the app.
pub fn readme(model: &ServiceModel, s: &Settings, acl: &Acl, pki: &pki::Pki) -> String {
    format!(
        "# Mosquitto TLS listener for {title}\n\
         \n\
         Generated by `mosquitto_tls` from `{source}`.\n\
         \n\
         > **Warning: `{server_key}` is a private key.** It was drawn fresh for this run\n\
         > and exists nowhere else. Never commit it (`.gitignore` here lists it), keep it\n\
         > readable by the broker only (`chmod 600`), and use your own PKI in production.\n\
         > The CA's key signed `{server_crt}` and was then dropped: no one can issue another\n\
         > certificate that clients trusting `{ca_crt}` accept; a new run makes a new CA.\n\
         \n\
         | file | what |\n\
         |---|---|\n\
         | `{conf}` | one TLS listener on port {port} (TLS 1.2 or newer), no anonymous clients, password file and ACLs |\n\
         | `{acl_file}` | `{publisher}` writes, `{reader}` reads the event topics |\n\
         | `{ca_crt}` | the CA clients trust (SHA-256 `{fingerprint}`) |\n\
         | `{server_crt}` | the broker's certificate: {sans}; valid until {not_after} |\n\
         | `{server_key}` | the broker's private key (secret) |\n\
         \n\
         The password file is not generated (a password in the workspace would be a\n\
         secret in the artifacts). Create it where the broker reads it:\n\
         \n\
         ```sh\n\
         mosquitto_passwd -c {passwd} {publisher}\n\
         mosquitto_passwd {passwd} {reader}\n\
         ```\n\
         \n\
         Start the broker with this directory at `{dir}` (`mosquitto -c {dir}/{conf}`),\n\
         then point the app at it: `MQTT_URL=mqtts://{host}:{port}`,\n\
         `MQTT_CA_FILE` = `{ca_crt}`, `MQTT_USERNAME={publisher}` and its password in\n\
         `MQTT_PASSWORD`.\n",
        title = model.service.title,
        source = model.source,
        server_key = pki::SERVER_KEY,
        ca_crt = pki::CA_CERT,
        server_crt = pki::SERVER_CERT,
        conf = CONF_FILE,
        acl_file = ACL_FILE,
        port = s.port,
        publisher = acl.publisher,
        reader = acl.reader,
        fingerprint = pki.ca_fingerprint,
        sans = pki.san_text(),
        not_after = pki.server_not_after,
        passwd = s.path(PASSWORD_FILE),
        dir = s.config_dir,
        host = s.host,
    )
}
