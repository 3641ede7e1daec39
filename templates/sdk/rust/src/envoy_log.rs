//! The plugin's setup of Envoy's log, kept apart from what it does: a panic
//! logged as one line, and the `log` crate held at the level Envoy runs the
//! wasm component at. lib.rs calls both from the SDK's entry points.

use proxy_wasm::types::LogLevel;

/// Makes the `log` crate follow Envoy's level for the wasm component
/// (`--component-log-level wasm:…`; `envoywasm up` runs it at debug), read
/// once per VM: a `debug!` that Envoy would drop then costs nothing, its
/// arguments not even evaluated.
pub fn follow_envoy_log_level() {
    // Envoy answers 0 (trace) to 6 (off); the SDK's LogLevel has no "off",
    // so this reads the number itself.
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        fn proxy_get_log_level(level: *mut u32) -> u32;
    }
    let mut level = 0;
    if unsafe { proxy_get_log_level(&mut level) } != 0 {
        level = 0; // not known: send everything, Envoy filters it
    }
    proxy_wasm::set_log_level(match level {
        0 => LogLevel::Trace,
        1 => LogLevel::Debug,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        4 => LogLevel::Error,
        _ => LogLevel::Critical,
    });
}

/// Logs a panic as one line, with its message and where it happened
/// ("panicked at src/lib.rs:LINE:COLUMN: message"), before the module aborts.
/// Envoy then fails the VM that ran it (failure_policy in envoy.yaml).
pub fn log_panics() {
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
