import { describe, expect, it } from "vitest";
import { failureHint } from "../../src/build/failure-hints.js";

// cargo's own words, from `envoywasm init --from` of the Rust SDK's examples/envoy_tcp_routing on a machine without protoc.
const NO_PROTOC = [
  "error: failed to run custom build command for `proxy-wasm-example-envoy-tcp-routing v0.0.1 (plugin)`",
  "Caused by:",
  "  process didn't exit successfully: `plugin/target/release/build/x/build-script-build` (exit status: 101)",
  "  thread 'main' (946) panicked at build.rs:24:10:",
  '  called `Result::unwrap()` on an `Err` value: Custom { kind: NotFound, error: "Could not find `protoc`. If `protoc` is installed, try setting the `PROTOC` environment variable to the path of the `protoc` binary." }',
].join("\n");

describe("a failed build's hint names its cause", () => {
  it("a tool a build script needs (protoc): install it, not 'fix the code'", () => {
    expect(failureHint(NO_PROTOC, "plugin", "rust")).toBe(
      "the build needs `protoc`, which is not installed: install it (the message above says how) and build again",
    );
  });

  it("a build script that fails on its own: said as such", () => {
    const output = "error: failed to run custom build command for `x v0.1.0 (plugin)`\n  thread 'main' panicked at build.rs:3:5:\n  boom";
    expect(failureHint(output, "plugin", "rust")).toBe("a crate's build script (build.rs) failed: its output is above");
  });

  it("a crate that cannot be downloaded: the network and cargo's registry, not Go's proxy", () => {
    const output =
      "    Updating crates.io index\nerror: failed to get `proxy-wasm` as a dependency of package `p v0.1.0`\nCaused by:\n  download of config.json failed\n  [6] Couldn't resolve host name";
    expect(failureHint(output, "plugin", "rust")).toContain("a crate could not be downloaded");
    expect(failureHint("go: example.com/x: dial tcp: lookup proxy.golang.org: no such host", "plugin", "go")).toContain("a Go module could not be downloaded");
  });

  it("a dependency that does not compile (an old wasm-bindgen in Cargo.lock): update it, not 'fix the code'", () => {
    // cargo's lines from a 2021 plugin's Cargo.lock (jeremybaumont/wasm-filter-http-metrics) on today's Rust.
    const output = [
      "   Compiling wasm-bindgen v0.2.76",
      "   Compiling http-metrics v0.1.0 (/tmp/p/plugin)",
      "error: older versions of the `wasm-bindgen` crate are incompatible with current versions of Rust; please update to `wasm-bindgen` v0.2.88",
      "error: could not compile `wasm-bindgen` (lib) due to 1 previous error",
    ].join("\n");
    expect(failureHint(output, "plugin", "rust")).toBe(
      "a dependency, wasm-bindgen, does not compile with this Rust: `cargo update -p wasm-bindgen` in plugin/ takes its newest compatible version (Cargo.lock may pin an old one), then build again",
    );
    // The plugin's own crate (cargo names it with its folder) is the code's.
    const own =
      "   Compiling http-metrics v0.1.0 (/tmp/p/plugin)\nerror[E0308]: mismatched types\nerror: could not compile `http-metrics` (lib) due to 1 previous error";
    expect(failureHint(own, "plugin", "rust")).toContain("fix the code");
  });

  it("a //go:embed of a file a generator makes (not in git): go generate where it is, not 'fix the code'", () => {
    // go build's line for ishioni/envoy-wasm-error-pages built from cmd/eep/ without its `go generate ./l10n/...` step.
    const output = "../../l10n/embed.go:7:12: pattern localize.min.js: no matching files found";
    expect(failureHint(output, "plugin/cmd/eep", "go")).toBe(
      "a //go:embed in plugin/l10n/embed.go names localize.min.js, which is not there: if a //go:generate makes it, run `go generate` in plugin/l10n/, then build again",
    );
  });

  it("a go.mod that asks for a newer Go than this one, with GOTOOLCHAIN=local: install it or let go fetch it", () => {
    const output = "go: go.mod requires go >= 1.27.0 (running go 1.26.8; GOTOOLCHAIN=local)";
    expect(failureHint(output, "plugin", "go")).toBe(
      "plugin/go.mod asks for Go 1.27.0, and this Go is 1.26.8 (GOTOOLCHAIN=local: it fetches no other): install Go 1.27.0 or newer, or let go fetch it from the module proxy: GOTOOLCHAIN=auto (`go env -w GOTOOLCHAIN=auto`)",
    );
  });

  it("a full disk names the toolchain's own caches", () => {
    expect(failureHint("error: No space left on device (os error 28)", "plugin", "rust")).toContain("plugin/target");
    expect(failureHint("write /tmp/go-build1/b001/_pkg_.a: no space left on device", "plugin", "go")).toContain("go env GOCACHE");
  });

  it("anything else is the code's", () => {
    expect(failureHint("error[E0308]: mismatched types\n --> src/lib.rs:3:22", "plugin", "rust")).toBe(
      "the compiler's messages are above; fix the code and run `envoywasm build` again",
    );
  });
});
