//! An Envoy HTTP filter plugin that logs the request and response headers.
//!
//! Built with cargo for WASI, as a library Envoy loads (crate-type cdylib):
//!
//!     cargo build --release --target wasm32-wasip1

use log::debug;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

mod envoy_log;

proxy_wasm::main! {{
    // Sends `log` records to Envoy's log, all of them until the VM starts
    // (then envoy_log::follow_envoy_log_level).
    proxy_wasm::set_log_level(LogLevel::Trace);
    envoy_log::log_panics();
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Plugin) });
}}

/// Writes a whole header list, values included, as ONE log line:
///
///     request headers: [[:authority localhost:10000] [:path /hello] ...]
///
/// One line per request keeps Envoy's log readable when requests interleave.
/// It is logged at debug: `envoywasm up` shows it; under an Envoy at its
/// default level (info) the headers are not even read.
/// Beware: values such as authorization or cookie headers end up in the log.
fn format_headers(headers: &[(String, String)]) -> String {
    let pairs: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("[{name} {value}]"))
        .collect();
    format!("[{}]", pairs.join(" "))
}

/// The root context: created once per plugin configuration in each Wasm VM
/// (one VM per Envoy worker thread). This plugin needs no configuration, so
/// whatever is configured (or nothing) is accepted.
struct Plugin;

impl Context for Plugin {}

impl RootContext for Plugin {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        envoy_log::follow_envoy_log_level();
        true
    }

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
        debug!(
            "request headers: {}",
            format_headers(&self.get_http_request_headers())
        );
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        debug!(
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
