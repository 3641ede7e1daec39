import path from "node:path";
import { describe, expect, it } from "vitest";
import { relativizePaths } from "../../src/build/build-all.js";

const ROOT = path.join(path.sep, "home", "me", "proj");
const PLUGIN = path.join(ROOT, "plugin");

describe("relativizePaths", () => {
  it("makes go build's ./ paths relative to the project", () => {
    const output = "# example.com/x/plugin\n./main.go:12:3: undefined: foo\n./main.go:20:2: declared and not used: bar\n";
    expect(relativizePaths(output, PLUGIN, ROOT, "plugin")).toBe(
      "# example.com/x/plugin\nplugin/main.go:12:3: undefined: foo\nplugin/main.go:20:2: declared and not used: bar\n",
    );
  });

  it("makes rustc's --> paths (relative to the crate) relative to the project, and leaves the registry's alone", () => {
    const output = [
      "error[E0425]: cannot find value `foo` in this scope",
      "  --> src/lib.rs:12:5",
      "   |",
      "12 |     foo",
      "warning: unused import",
      " --> /home/me/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/x-1.0.0/src/a.rs:1:5",
    ].join("\n");
    expect(relativizePaths(output, PLUGIN, ROOT, "plugin").split("\n")).toEqual([
      "error[E0425]: cannot find value `foo` in this scope",
      "  --> plugin/src/lib.rs:12:5",
      "   |",
      "12 |     foo",
      "warning: unused import",
      " --> /home/me/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/x-1.0.0/src/a.rs:1:5",
    ]);
  });

  it("handles bare file names, absolute paths and indented lines", () => {
    const output = [
      "# example.com/x/plugin [example.com/x/plugin.test]",
      'main_test.go:5:2: "os" imported and not used',
      `${PLUGIN}/util.go:3:1: syntax error: unexpected }`,
      `${ROOT}/backend/main.go:1:1: expected 'package', found x`,
      "\t./main.go:7:9: have (string)",
      "my-helpers.go:1:1: expected 'package'",
      "go: downloading github.com/proxy-wasm/proxy-wasm-go-sdk v0.0.0",
      "/root/go/pkg/mod/github.com/x/y@v1/z.go:1:2: elsewhere",
    ].join("\n");
    expect(relativizePaths(output, PLUGIN, ROOT, "plugin")).toBe(
      [
        "# example.com/x/plugin [example.com/x/plugin.test]",
        'plugin/main_test.go:5:2: "os" imported and not used',
        "plugin/util.go:3:1: syntax error: unexpected }",
        "backend/main.go:1:1: expected 'package', found x",
        "\tplugin/main.go:7:9: have (string)",
        "plugin/my-helpers.go:1:1: expected 'package'",
        "go: downloading github.com/proxy-wasm/proxy-wasm-go-sdk v0.0.0",
        "/root/go/pkg/mod/github.com/x/y@v1/z.go:1:2: elsewhere",
      ].join("\n"),
    );
  });

  it("uses a nested plugin folder, with or without a trailing slash", () => {
    const nested = path.join(ROOT, "src", "filter");
    for (const rel of ["src/filter", "src/filter/"]) {
      expect(relativizePaths("./main.go:1:1: x\nmain.go:2:2: y", nested, ROOT, rel)).toBe("src/filter/main.go:1:1: x\nsrc/filter/main.go:2:2: y");
    }
  });

  it("leaves output without paths alone", () => {
    const text = "note: module requires Go 1.25\nexit status 1\n";
    expect(relativizePaths(text, PLUGIN, ROOT, "plugin")).toBe(text);
  });
});
