//! An Envoy HTTP filter plugin that logs the request and response headers.
//!
//! Built with cargo for WASI, as a library Envoy loads (crate-type cdylib):
//!
//!     cargo build --release --target wasm32-wasip1

use log::info;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    // Sends `log` records to Envoy's log; the level Envoy shows is Envoy's
    // (`--component-log-level wasm:debug`).
    proxy_wasm::set_log_level(LogLevel::Trace);
    log_panics();
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Plugin) });
}}

/// Writes a whole header list, values included, as ONE log line:
///
///     request headers: [[:authority localhost:10000] [:path /hello] ...]
///
/// One line per request keeps Envoy's log readable when requests interleave.
/// Beware: values such as authorization or cookie headers end up in the log.
fn format_headers(headers: &[(String, String)]) -> String {
    let pairs: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("[{name} {value}]"))
        .collect();
    format!("[{}]", pairs.join(" "))
}

/// Logs a panic as one line, with its message and where it happened
/// ("panicked at src/lib.rs:LINE:COLUMN: message"), before the module aborts.
/// Envoy then fails the VM that ran it (failure_policy in envoy.yaml).
fn log_panics() {
    std::panic::set_hook(Box::new(|panic| {
        let payload = panic.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        let at = panic
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let _ = proxy_wasm::hostcalls::log(
            LogLevel::Critical,
            &format!("panicked at {at}: {}", message.unwrap_or("(no message)")),
        );
    }));
}

/// The root context: created once per plugin configuration in each Wasm VM
/// (one VM per Envoy worker thread). This plugin needs no configuration, so
/// whatever is configured (or nothing) is accepted.
struct Plugin;

impl Context for Plugin {}

impl RootContext for Plugin {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(LogHeaders))
    }
}

/// Created for every HTTP request (stream).
struct LogHeaders;

impl Context for LogHeaders {}

impl HttpContext for LogHeaders {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        info!(
            "request headers: {}",
            format_headers(&self.get_http_request_headers())
        );
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        info!(
            "response headers: {}",
            format_headers(&self.get_http_response_headers())
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

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn formats_headers_in_one_line() {
        let request = headers(&[
            (":method", "GET"),
            (":path", "/hello"),
            ("x-request-id", "req-1"),
        ]);
        assert_eq!(
            format_headers(&request),
            "[[:method GET] [:path /hello] [x-request-id req-1]]"
        );
    }

    #[test]
    fn keeps_values_with_spaces_and_the_order() {
        let response = headers(&[
            (":status", "200"),
            ("content-type", "text/plain; charset=utf-8"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        assert_eq!(
            format_headers(&response),
            "[[:status 200] [content-type text/plain; charset=utf-8] [set-cookie a=1] [set-cookie b=2]]"
        );
    }

    #[test]
    fn formats_no_headers_as_an_empty_list() {
        assert_eq!(format_headers(&[]), "[]");
    }
}
