//! An Envoy HTTP filter plugin that only lets requests through when they carry
//! a shared secret in a header. Header and secret come from the plugin
//! configuration (typed_config.config.configuration in envoy.yaml), e.g.:
//!
//!     {"header": "x-api-key", "value": "s3cret"}
//!
//! Other requests are answered with 403 by Envoy, never reaching the backend.
//!
//! Built with cargo for WASI, as a library Envoy loads (crate-type cdylib):
//!
//!     cargo build --release --target wasm32-wasip1

use log::{debug, error, info};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

mod envoy_log;

// Used when the configuration is absent or leaves a key out (or empty).
// Configure your own secret for anything but a demo.
const DEFAULT_HEADER: &str = "x-api-key";
const DEFAULT_VALUE: &str = "let-me-in";

proxy_wasm::main! {{
    // Sends `log` records to Envoy's log, all of them until the VM starts
    // (then envoy_log::follow_envoy_log_level).
    proxy_wasm::set_log_level(LogLevel::Trace);
    envoy_log::log_panics();
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Plugin::default()) });
}}

/// The plugin configuration.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    header: String,
    value: String,
}

/// Parses the JSON configuration, filling in the defaults. An absent or empty
/// configuration means the defaults; anything but a JSON object is an error.
fn parse_config(data: &[u8]) -> Result<Config, String> {
    let mut config = Config {
        header: String::new(),
        value: String::new(),
    };
    if !data.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice(data).map_err(|e| e.to_string())? {
            serde_json::Value::Null => {}
            serde_json::Value::Object(object) => {
                config.header = string_field(&object, "header")?;
                config.value = string_field(&object, "value")?;
            }
            _ => return Err("not a JSON object".to_string()),
        }
    }
    // Envoy hands header names to plugins in lower case.
    config.header = config.header.trim().to_lowercase();
    if config.header.is_empty() {
        config.header = DEFAULT_HEADER.to_string();
    }
    if config.value.is_empty() {
        config.value = DEFAULT_VALUE.to_string();
    }
    Ok(config)
}

/// The string at `key`, or "" when the key is absent or null.
fn string_field(
    object: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<String, String> {
    match object.get(key) {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        // Not the value itself: it may be the secret.
        Some(_) => Err(format!("\"{key}\" must be a string")),
    }
}

/// What the plugin does with a request.
#[derive(Debug, PartialEq)]
enum Verdict {
    Allow,
    Deny(String),
}

/// Judges a request by the value of its header of the configured name (the
/// first one, as get_http_request_header gives it), None when it has none.
fn judge(config: &Config, secret: Option<&str>) -> Verdict {
    match secret {
        None => Verdict::Deny(format!("missing {} header", config.header)),
        Some(s) if !same_secret(s.as_bytes(), config.value.as_bytes()) => {
            Verdict::Deny(format!("wrong {} header value", config.header))
        }
        Some(_) => Verdict::Allow,
    }
}

/// Compares without stopping at the first difference, so response times do
/// not leak how much of the secret was guessed.
fn same_secret(given: &[u8], wanted: &[u8]) -> bool {
    let mut diff = given.len() ^ wanted.len();
    for (i, w) in wanted.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ w);
    }
    diff == 0
}

/// The root context: created once per plugin configuration in each Wasm VM
/// (one VM per Envoy worker thread).
#[derive(Default)]
struct Plugin {
    config: Option<Config>,
}

impl Context for Plugin {}

impl RootContext for Plugin {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        envoy_log::follow_envoy_log_level();
        true
    }

    /// Reads the configuration. Returning false makes Envoy reject the
    /// configuration instead of running a misconfigured plugin.
    fn on_configure(&mut self, _size: usize) -> bool {
        match parse_config(&self.get_plugin_configuration().unwrap_or_default()) {
            Ok(config) => {
                info!("plugin started: requests need header {}", config.header);
                self.config = Some(config);
                true
            }
            Err(e) => {
                // Unlike add-header, do not log the configuration: it holds the secret.
                error!(
                    "invalid plugin configuration: {e}; expected JSON like {{\"header\": \"x-api-key\", \"value\": \"<secret>\"}}"
                );
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(Auth { config }))
    }
}

/// Created for every HTTP request (stream).
struct Auth {
    config: Config,
}

impl Context for Auth {}

impl HttpContext for Auth {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let secret = self.get_http_request_header(&self.config.header);
        match judge(&self.config, secret.as_deref()) {
            Verdict::Allow => {
                // Per request, so at debug: `envoywasm up` shows it, an Envoy
                // at its default level (info) drops it.
                debug!("allowed");
                Action::Continue
            }
            Verdict::Deny(reason) => {
                // A decision worth a line in any log: at info.
                let request_id = self.get_http_request_header("x-request-id");
                info!(
                    "denied: {reason} (request id {})",
                    request_id.as_deref().unwrap_or("-")
                );
                // Envoy answers at once; the request never reaches the backend.
                let body = format!("forbidden: missing or wrong {}\n", self.config.header);
                self.send_http_response(
                    403,
                    vec![("content-type", "text/plain")],
                    Some(body.as_bytes()),
                );
                Action::Pause
            }
        }
    }
}

// Unit tests of the plugin's logic, on the machine's own target (no Envoy):
//
//     cargo test
#[cfg(test)]
mod tests {
    use super::*;

    fn config(header: &str, value: &str) -> Config {
        Config {
            header: header.into(),
            value: value.into(),
        }
    }

    #[test]
    fn allows_the_right_secret() {
        let config = parse_config(br#"{"header": "X-Token", "value": "s3cret"}"#).unwrap();
        assert_eq!(config, self::config("x-token", "s3cret"));
        assert_eq!(judge(&config, Some("s3cret")), Verdict::Allow);
    }

    #[test]
    fn denies_a_missing_or_wrong_secret() {
        let config = config("x-token", "s3cret");
        for (secret, reason) in [
            (None, "missing x-token header"),
            (Some(""), "wrong x-token header value"),
            (Some("s3cre"), "wrong x-token header value"),
            (Some("s3cret!"), "wrong x-token header value"),
        ] {
            assert_eq!(
                judge(&config, secret),
                Verdict::Deny(reason.to_string()),
                "{secret:?}"
            );
        }
    }

    #[test]
    fn defaults_without_configuration() {
        let config = parse_config(b"").unwrap();
        assert_eq!(config, self::config(DEFAULT_HEADER, DEFAULT_VALUE));
        assert_eq!(judge(&config, Some("let-me-in")), Verdict::Allow);
        assert_eq!(
            judge(&config, Some("let-me-out")),
            Verdict::Deny("wrong x-api-key header value".into())
        );
    }

    #[test]
    fn refuses_invalid_configuration_without_showing_it() {
        for data in [
            &br#"{"value": "s3cret""#[..],
            br#"["x-api-key", "s3cret"]"#,
            br#"{"value": 12345}"#,
        ] {
            let e = parse_config(data).expect_err("accepted");
            assert!(!e.contains("s3cret") && !e.contains("12345"), "{e}");
        }
    }

    #[test]
    fn compares_secrets_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3cret\0", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
