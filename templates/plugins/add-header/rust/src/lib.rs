//! An Envoy HTTP filter plugin that adds a response header. Its name and value
//! come from the plugin configuration (typed_config.config.configuration in
//! envoy.yaml), for example:
//!
//!     {"header": "x-hello", "value": "world"}
//!
//! Built with cargo for WASI, as a library Envoy loads (crate-type cdylib):
//!
//!     cargo build --release --target wasm32-wasip1

use log::{debug, error, info};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

mod envoy_log;

// Used when the configuration is absent or leaves a key out (or empty).
const DEFAULT_HEADER: &str = "x-envoywasm";
const DEFAULT_VALUE: &str = "hello from {{pluginName}}";

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
    // HTTP header names are case-insensitive and Envoy stores them in lower
    // case, so do the same to log what is actually sent.
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
        Some(_) => Err(format!("\"{key}\" must be a string")),
    }
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
        let data = self.get_plugin_configuration().unwrap_or_default();
        match parse_config(&data) {
            Ok(config) => {
                info!(
                    "plugin started: adding response header {}: {}",
                    config.header, config.value
                );
                self.config = Some(config);
                true
            }
            Err(e) => {
                error!(
                    "invalid plugin configuration {:?}: {e}; expected JSON like {{\"header\": \"x-hello\", \"value\": \"world\"}}",
                    String::from_utf8_lossy(&data)
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
        Some(Box::new(AddHeader { config }))
    }
}

/// Created for every HTTP request (stream). It only acts on the response:
/// the defaults let the request through untouched.
struct AddHeader {
    config: Config,
}

impl Context for AddHeader {}

impl HttpContext for AddHeader {
    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        self.add_http_response_header(&self.config.header, &self.config.value);
        // Per request, so at debug: `envoywasm up` shows it, an Envoy at its
        // default level (info) drops it, unformatted.
        debug!(
            "added response header {}: {}",
            self.config.header, self.config.value
        );
        Action::Continue
    }
}

// Unit tests of the plugin's logic, on the machine's own target (no Envoy):
//
//     cargo test
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_value() {
        let config = parse_config(br#"{"header": "X-Hello", "value": "world"}"#).unwrap();
        assert_eq!(
            config,
            Config {
                header: "x-hello".into(),
                value: "world".into()
            }
        );
    }

    #[test]
    fn defaults_without_configuration() {
        for data in [&b""[..], b"  \n", b"{}", b"null"] {
            let config = parse_config(data)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(data)));
            assert_eq!(
                config,
                Config {
                    header: DEFAULT_HEADER.into(),
                    value: DEFAULT_VALUE.into()
                }
            );
        }
    }

    #[test]
    fn defaults_for_a_missing_key() {
        let config = parse_config(br#"{"value": "only the value"}"#).unwrap();
        assert_eq!(
            config,
            Config {
                header: DEFAULT_HEADER.into(),
                value: "only the value".into()
            }
        );
    }

    #[test]
    fn refuses_invalid_configuration() {
        for data in [
            &br#"{"value": "world""#[..],
            br#"["x-hello", "world"]"#,
            br#"{"value": 12345}"#,
        ] {
            assert!(
                parse_config(data).is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(data)
            );
        }
    }
}
