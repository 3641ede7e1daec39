import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { UsageError, UserError } from "../../src/errors.js";
import { loadCases, parseCaseFile, type CaseContext, type E2eCase } from "../../src/run/e2e/cases.js";
import { Completions, DONE_TIMEOUT_MS } from "../../src/run/e2e/completion.js";
import { check, curlFor, lineDiff, subsetMismatch, type Answer } from "../../src/run/e2e/expect.js";
import { junitXml } from "../../src/run/e2e/report.js";
import type { CaseResult } from "../../src/run/e2e/runner.js";

const CONTEXT: CaseContext = {
  listeners: ["listener", "admin-api"],
  defaultListener: "listener",
  display: "envoy.yaml",
  hasPlugin: (l) => l === "listener",
  configOf: (l) => (l === "listener" ? { header: "x-api-key", value: "s3cret", nested: { n: 7 } } : undefined),
};

function parse(text: string): E2eCase[] {
  return parseCaseFile(text, "e2e/t.yaml", CONTEXT);
}

function failure(text: string): UsageError {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).not.toContain("\n");
    return error as UsageError;
  }
  throw new Error(`expected a failure for:\n${text}`);
}

describe("e2e case files", () => {
  it("reads a case with defaults, {config.*} resolved, and its line", () => {
    const [c] = parse(`# cases
cases:
  - name: with the key
    request:
      path: /hello?x={config.nested.n}
      headers: { "{config.header}": "{config.value}", x-n: 5 }
    expect:
      status: 200
      headers: { x-hello: world, x-re: "/^a+$/i", x-gone: null }
      body: { json: { ok: true } }
      logs: ["added {config.header}", "/panic/"]
`);
    expect(c!.line).toBe(3);
    expect(c!.listener).toBe("listener");
    expect(c!.request).toEqual({ method: "GET", path: "/hello?x=7", headers: { "x-api-key": "s3cret", "x-n": "5" } });
    expect(c!.expect.headers.map((h) => [h.name, h.value, h.pattern?.flags ?? null])).toEqual([
      ["x-hello", "world", null],
      ["x-re", "/^a+$/i", "i"],
      ["x-gone", null, null],
    ]);
    expect(c!.expect.body).toEqual({ kind: "json", value: { ok: true } });
    expect(c!.expect.logs.map((l) => [l.test("added x-api-key here"), l.test("a panic: boom")])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it("tells an unknown key with a did-you-mean and what is allowed", () => {
    expect(failure("cases:\n  - name: a\n    request: { path: /, hedaers: {} }\n").message).toBe(
      'e2e/t.yaml:3:25: cases[0].request.hedaers: unknown key (did you mean "headers"?); allowed here: method, path, headers, body, listener',
    );
    expect(failure("case: []\n").message).toMatch(/^e2e\/t\.yaml:1:1: case: unknown key \(did you mean "cases"\?\)/);
  });

  it("tells a missing path, a bad regex, an unknown listener, a duplicate name, an unknown config key", () => {
    expect(failure("cases:\n  - name: a\n    request: {}\n").message).toMatch(/^e2e\/t\.yaml:3:14: cases\[0\]\.request\.path: is required/);
    expect(failure('cases:\n  - name: a\n    request: { path: / }\n    expect: { logs: ["/a(/"] }\n').message).toMatch(
      /^e2e\/t\.yaml:4:22: cases\[0\]\.expect\.logs\[0\]: not a valid regex: \/a\(\/: Unterminated group$/,
    );
    expect(failure("cases:\n  - name: a\n    request: { path: /, listener: admin }\n").message).toBe(
      'e2e/t.yaml:3:35: cases[0].request.listener: envoy.yaml has no listener "admin"; its listeners: listener, admin-api',
    );
    expect(failure("cases:\n  - name: a\n    request: { path: / }\n  - name: a\n    request: { path: /b }\n").message).toMatch(
      /^e2e\/t\.yaml:4:11: cases\[1\]\.name: "a" is the name of case 1 too/,
    );
    expect(failure('cases:\n  - name: a\n    request: { path: /, headers: { x: "{config.nope}" } }\n').message).toMatch(
      /^e2e\/t\.yaml:3:39: cases\[0\]\.request\.headers\.x: \{config\.nope\} is not in the plugin configuration of listener listener/,
    );
    expect(failure('cases:\n  - name: a\n    request: { path: /, listener: admin-api }\n    expect: { logs: ["{config.header}"] }\n').message).toMatch(
      /^e2e\/t\.yaml:4:22: cases\[0\]\.expect\.logs\[0\]: \{config\.header\}: listener admin-api of envoy\.yaml runs no Wasm filter/,
    );
    expect(failure("cases:\n  - name: a\n    request: { path: / }\n    expect: { status: ok }\n").message).toMatch(
      /^e2e\/t\.yaml:4:23: cases\[0\]\.expect\.status: must be an HTTP status/,
    );
    expect(failure("cases: [\n").message).toMatch(/^e2e\/t\.yaml:\d+:\d+: invalid YAML/);
  });
});

describe("e2e/ as a folder", () => {
  it("reads its .yaml files in name order; a folder named *.yaml holds no cases, a link to one is named", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "envoywasm-cases-"));
    try {
      const dir = path.join(root, "e2e");
      await mkdir(path.join(dir, "fixtures.yaml"), { recursive: true });
      await writeFile(path.join(dir, "b.yaml"), "cases:\n  - name: second\n    request: { path: /b }\n");
      await writeFile(path.join(dir, "a.yml"), "cases:\n  - name: first\n    request: { path: /a }\n");
      expect((await loadCases(root, CONTEXT)).map((c) => c.name)).toEqual(["first", "second"]);
      await symlink(path.join(dir, "fixtures.yaml"), path.join(dir, "c.yaml"));
      const error = await loadCases(root, CONTEXT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toBe("e2e/c.yaml is a folder; it must be a file");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("e2e matchers", () => {
  const c = (expect: string) => parse(`cases:\n  - name: a\n    request: { path: /, method: POST, body: "it's" }\n    expect: ${expect}\n`)[0]!;
  const answer: Answer = { status: 200, headers: { "content-type": "application/json", server: "envoy" }, body: '{"a":{"b":[1,2]},"c":"d"}' };

  it("passes what matches", () => {
    expect(
      check(
        c('{ status: 200, headers: { content-type: "/json$/", x-none: null }, body: { json: { a: { b: [1, 2] } } }, logs: ["said"], noLogs: ["/panic/"] }'),
        answer,
        [{ level: "info", text: "I said so" }],
      ),
    ).toEqual([]);
    expect(check(c('{ body: { contains: "\\"c\\"" } }'), answer, [])).toEqual([]);
    expect(check(c('{ body: { matches: "^\\\\{" } }'), answer, [])).toEqual([]);
  });

  it("tells each mismatch with a diff", () => {
    const m = check(c('{ status: 201, headers: { server: null, x-a: b }, body: { json: { a: { b: [1] } } }, logs: ["nope"], noLogs: ["/panic/"] }'), answer, [
      { text: "goexit", panic: "panic: boom at main.f (main.go:3) in on_request_headers" },
    ]);
    expect(m.map((x) => x.message)).toEqual([
      "status: expected 201, got 200",
      "headers: 2 differ (- expected, + got)",
      "body: JSON differs at $.a.b (- expected, + got)",
      'logs: no record of the plugin matches "nope"',
      'noLogs: a record of the plugin matches "/panic/"',
    ]);
    expect(m[1]!.detail).toEqual(["- server: (absent)", "+ server: envoy", "- x-a: b", "+ x-a: (absent)"]);
    expect(m[2]!.detail).toEqual(["- [1]", "+ [1,2]"]);
    expect(m[4]!.detail).toEqual(["+ panic: boom at main.f (main.go:3) in on_request_headers"]);
  });

  it("diffs lines, expected first", () => {
    expect(lineDiff("a\nb\nc", "a\nx\nc")).toEqual(["  a", "- b", "+ x", "  c"]);
    expect(subsetMismatch({ a: 1 }, { a: 1, b: 2 }, "$")).toBeUndefined();
    expect(subsetMismatch({ a: null }, {}, "$")).toEqual({ at: "$.a", expected: null, got: undefined });
  });

  it("writes a curl line that works as printed", () => {
    expect(curlFor(c("{}").request, "http://127.0.0.1:1234/")).toBe("curl -i -X POST --data-raw 'it'\\''s' http://127.0.0.1:1234/");
  });

  it("writes JUnit XML with everything escaped", () => {
    const failed: CaseResult = {
      file: "e2e/t.yaml",
      line: 2,
      name: 'a <b> & "c"',
      ok: false,
      ms: 12,
      request: { method: "GET", path: "/", headers: {}, url: "http://127.0.0.1:1/" },
      curl: "curl -i http://127.0.0.1:1/",
      mismatches: [{ what: "status", message: "status: expected 200, got 500", detail: [] }],
      records: [{ level: "info", text: "</failure>\u0001" }],
    };
    const run = {
      project: "p",
      envoy: { version: "1.40.0" },
      cases: [failed, { ...failed, name: "ok", ok: true, mismatches: [] }],
      passed: 1,
      failed: 1,
      ms: 100,
    };
    const xml = junitXml({ project: "p", runs: [run], passed: 1, failed: 1, ms: 100 });
    expect(xml).toContain('<testsuites name="p e2e" tests="2" failures="1" errors="0"');
    expect(xml).toContain('<testsuite name="envoywasm e2e (Envoy 1.40.0)" tests="2" failures="1"');
    expect(xml).toContain('name="a &lt;b&gt; &amp; &quot;c&quot;"');
    expect(xml).toContain('<failure message="status: expected 200, got 500" type="mismatch">');
    expect(xml).toContain("[info] &lt;/failure&gt;\uFFFD");
    expect(xml.match(/<testcase /g)).toHaveLength(2);
    expect(xml.match(/<\/failure>/g)).toHaveLength(1);

    // An Envoy that could not run the cases: a testsuite of its own with its start in error, beside the others.
    const broken = {
      ...run,
      envoy: { version: "1.36.2" },
      cases: [],
      passed: 0,
      failed: 0,
      error: { message: "m.wasm would not load in Envoy 1.36.2:\n  - <x>", hint: "h" },
    };
    const two = junitXml({ project: "p", runs: [broken, run], passed: 1, failed: 1, ms: 200 });
    expect(two).toContain('<testsuites name="p e2e" tests="3" failures="1" errors="1"');
    expect(two).toContain('<testsuite name="envoywasm e2e (Envoy 1.36.2)" tests="1" failures="0" errors="1"');
    expect(two).toContain(
      '<error message="m.wasm would not load in Envoy 1.36.2:" type="envoy">m.wasm would not load in Envoy 1.36.2:\n  - &lt;x&gt;\nhint: h</error>',
    );
    expect(two.match(/<testsuite /g)).toHaveLength(2);
  });
});

describe("a case's end: Envoy's access line for its request id", () => {
  it("resolves true when the line is seen, false once the wait runs out; other lines are not ours", async () => {
    vi.useFakeTimers();
    try {
      const done = new Completions();
      const seen = done.wait("a1");
      const missing = done.wait("b2");
      expect(done.line("wasm log auth root vm: denied")).toBe(false);
      expect(done.line("envoywasm-e2e done a1")).toBe(true);
      await expect(seen).resolves.toBe(true);
      let settled: boolean | undefined;
      void missing.then((v) => (settled = v));
      await vi.advanceTimersByTimeAsync(DONE_TIMEOUT_MS - 1);
      expect(settled).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(false);
      // A line for a request nobody waits for (any more) is still ours, and harmless.
      expect(done.line("envoywasm-e2e done b2")).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("ends the request in flight when a tcp_proxy's connection closes (its line carries no request id)", async () => {
    const done = new Completions();
    const seen = done.wait("c3");
    expect(done.line("envoywasm-e2e connection closed")).toBe(true);
    await expect(seen).resolves.toBe(true);
  });
});
