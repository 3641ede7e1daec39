import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePorts, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { expectAllStopped, request, waitFor } from "../helpers/run.js";

// Plugin folders laid out like the proxy-wasm Go SDK's examples/ (written for
// these tests): a go.mod with `replace … => ../..`, tests that read
// ./main.wasm, 0.0.0.0 binds, a TypedStruct, a static-reply listener on a
// second port, a cluster that goes to httpbin.org.
const EXAMPLES = fileURLToPath(new URL("../fixtures/examples/", import.meta.url));

const running: { dir: string; ports: number[] }[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    await runCli(["down"], { cwd: p.dir });
    await expectAllStopped(p.dir, p.ports);
  }
});
afterAll(removeTempDirs);

/** A copy of an example as the user's own folder, inside a repo-like tree (so `../..` exists), with free ports in its envoy.yaml if it has one. */
async function userFolder(example: string, ports: Record<number, number>): Promise<string> {
  const repo = await tempDir("envoywasm-sdk-");
  const folder = path.join(repo, "examples", example);
  await cp(path.join(EXAMPLES, example), folder, { recursive: true });
  const file = path.join(folder, "envoy.yaml");
  if (!existsSync(file)) return folder;
  let text = await readFile(file, "utf8");
  for (const [from, to] of Object.entries(ports)) text = text.replaceAll(`port_value: ${from}`, `port_value: ${to}`);
  await writeFile(file, text);
  return folder;
}

async function treeHash(dir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) =>
    path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)),
  )) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    hash.update(path.relative(dir, file)).update(await readFile(file));
  }
  return hash.digest("hex");
}

describe("envoywasm init --from (adopting an existing plugin)", () => {
  it("adopts a folder like the SDK's http_headers: builds, tests against the module, runs it with no hand edit", async () => {
    const [listener, admin, staticReply] = await freePorts(3);
    const source = await userFolder("headers", { 18000: listener!, 8001: admin!, 8099: staticReply! });
    const before = await treeHash(source);
    const root = await tempDir();
    const dir = path.join(root, "my-headers");

    const init = await runCli(["init", "--from", source, dir], { cwd: root });
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stderr).toContain("the original folder was not changed");
    expect(init.stdout).toContain("~ envoy.yaml: the module path ./examples/headers/main.wasm is now build/my-headers.wasm, where `envoywasm build` writes it");
    expect(init.stdout).toContain(`~ envoy.yaml: listener main now binds 127.0.0.1:${listener} instead of 0.0.0.0 (loopback only)`);
    expect(init.stdout).toContain(`~ envoy.yaml: the admin interface now binds 127.0.0.1:${admin} instead of 0.0.0.0`);
    expect(init.stdout).toContain("~ plugin/go.mod: dropped `replace github.com/proxy-wasm/proxy-wasm-go-sdk => ../..` (it points outside the adopted folder)");
    expect(init.stdout).toMatch(
      /~ plugin\/go\.mod: requires github\.com\/proxy-wasm\/proxy-wasm-go-sdk@v0\.0\.0-\d{14}-[0-9a-f]{12}, the version envoywasm's templates pin/,
    );
    // Copied, never edited.
    expect(await treeHash(source)).toBe(before);
    const gomod = await readFile(path.join(dir, "plugin/go.mod"), "utf8");
    expect(gomod).not.toContain("replace");
    expect(gomod).toContain("module example.com/examples/headers");
    // No backend: nothing in this envoy.yaml leaves the machine.
    expect(parse(await readFile(path.join(dir, "envoywasm.yaml"), "utf8"))).not.toHaveProperty("backend");

    // A starter e2e case from envoy.yaml's first route (run against Envoy in the httpbin test below), and a CI workflow.
    expect(parse(await readFile(path.join(dir, "e2e/starter.yaml"), "utf8"))).toEqual({
      cases: [{ name: "GET / through the plugin to cluster web_service", request: { path: "/" }, expect: { noLogs: ["/panic/"] } }],
    });
    expect(init.stdout).toContain("+ .github/workflows/envoywasm.yml");
    expect(init.stdout).toContain("  envoywasm up        # it prints requests to try (e2e/)");

    // Its own tests, natively and against the built module it reads as ./main.wasm: none skipped.
    const test = await runCli(["test", "--unit"], { cwd: dir });
    expect(test.exitCode, test.stderr + test.stdout).toBe(0);
    expect(test.stderr).toContain("plugin tests: 2 passed, 0 failed, 0 skipped");

    running.push({ dir, ports: [listener!, admin!, staticReply!] });
    const up = await runCli(["up", "-d"], { cwd: dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`try: +curl -i http://127\\.0\\.0\\.1:${listener}/\\n`));
    // The example's own request: through the plugin, to its static-reply listener.
    const res = await request(listener!, { path: "/uuid", headers: { "this-is-key": "this-is-value" } });
    expect(res.status).toBe(200);
    expect(res.body).toBe("example body\n");
    expect(res.headers["x-wasm-header"]).toBe("demo-wasm");
    await waitFor(
      async () => (await runCli(["logs", "--wasm"], { cwd: dir })).stdout.includes("request header --> this-is-key: this-is-value"),
      10_000,
      "the plugin's line",
    );
    const status = JSON.parse((await runCli(["status", "--json"], { cwd: dir })).stdout) as { listeners: { name: string; port: number }[] };
    expect(status.listeners).toEqual([
      { name: "main", port: listener },
      { name: "staticreply", port: staticReply },
    ]);
  });

  it("points a cluster that leaves the machine (httpbin.org) at a generated backend that answers like httpbin", async () => {
    const [listener, admin, backend] = await freePorts(3);
    const source = await userFolder("httpbin", { 18000: listener!, 8001: admin! });
    const root = await tempDir();
    const dir = path.join(root, "auth-random");
    const init = await runCli(["init", "--from", source, dir, "--backend-port", String(backend)], { cwd: root });
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stdout).toContain(
      `~ envoy.yaml: cluster httpbin went to httpbin.org:80; it now goes to the project's backend on 127.0.0.1:${backend} (httpbin-style endpoints)`,
    );
    expect(parse(await readFile(path.join(dir, "envoywasm.yaml"), "utf8"))).toMatchObject({ backend: { dir: "backend", cluster: "httpbin" } });

    // Its starter e2e case (the first route, GET /) passes against the adopted plugin and the generated backend,
    // which answers 200 (suggested in the file, not asserted: an adopted plugin may answer a request itself).
    expect(parse(await readFile(path.join(dir, "e2e/starter.yaml"), "utf8")).cases[0].expect).toEqual({ noLogs: ["/panic/"] });
    const e2e = await runCli(["test", "--e2e", "--json"], { cwd: dir });
    expect(e2e.exitCode, e2e.stderr + e2e.stdout).toBe(0);
    expect(JSON.parse(e2e.stdout)).toMatchObject({
      passed: 1,
      failed: 0,
      runs: [{ passed: 1, cases: [{ file: "e2e/starter.yaml", name: "GET / through the plugin to the backend", ok: true, status: 200 }] }],
    });

    running.push({ dir, ports: [listener!, admin!, backend!] });
    const up = await runCli(["up", "-d"], { cwd: dir });
    expect(up.exitCode, up.stderr).toBe(0);
    const echo = await request(listener!, { path: "/anything/x?y=1", method: "PUT", body: "[original body]" });
    expect(echo.status).toBe(200);
    const json = JSON.parse(echo.body) as { method: string; path: string; query: Record<string, string[]>; headers: Record<string, string>; body: string };
    expect(json).toMatchObject({ method: "PUT", path: "/anything/x", query: { y: ["1"] }, body: "[original body]" });
    expect(json.headers["x-tagged-by"]).toBe("httpbin-example");
    expect(JSON.parse((await request(listener!, { path: "/uuid" })).body).uuid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect((await request(listener!, { path: "/status/418" })).status).toBe(418);
    expect(JSON.parse((await request(listener!, { path: "/headers", headers: { "x-mine": "1" } })).body).headers["x-mine"]).toBe("1");
    expect(JSON.parse((await request(listener!, { path: "/delay/50" })).body)).toEqual({ delayed_ms: 50 });
    expect((await request(listener!, { path: "/not/an/endpoint" })).body).toBe("ok");

    // httpbin's own endpoints, in httpbin's shapes. The SDK's http_auth_random reads the first byte of /bytes/1.
    const oneByte = await request(listener!, { path: "/bytes/1" });
    expect(oneByte).toMatchObject({ status: 200, headers: { "content-type": "application/octet-stream", "content-length": "1" } });
    expect(oneByte.body).toHaveLength(1);
    expect((await request(listener!, { path: "/bytes/200000" })).headers["content-length"]).toBe(String(100 * 1024));
    const get = JSON.parse((await request(listener!, { path: "/get?y=1&z=2&z=3", headers: { "x-mine": "1" } })).body) as Record<string, unknown>;
    expect(get).toEqual({
      args: { y: "1", z: ["2", "3"] },
      headers: expect.objectContaining({ "x-mine": "1", "x-tagged-by": "httpbin-example" }),
      origin: "127.0.0.1",
      url: `http://127.0.0.1:${listener}/get?y=1&z=2&z=3`,
    });
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const endpoint = `/${method.toLowerCase()}`;
      // Content-Length set by hand: Node sends a DELETE's body without one.
      const headers = { "content-type": "application/json", "content-length": "11" };
      const sent = await request(listener!, { path: `${endpoint}?q=1`, method, headers, body: '{"a":[1,2]}' });
      expect(JSON.parse(sent.body), method).toMatchObject({
        args: { q: "1" },
        data: '{"a":[1,2]}',
        json: { a: [1, 2] },
        form: {},
        url: `http://127.0.0.1:${listener}${endpoint}?q=1`,
      });
    }
    const form = JSON.parse(
      (await request(listener!, { path: "/post", method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1" })).body,
    ) as unknown;
    expect(form).toMatchObject({ data: "", form: { a: "1" }, json: null });
    expect(JSON.parse((await request(listener!, { path: "/ip" })).body)).toEqual({ origin: "127.0.0.1" });
    expect(JSON.parse((await request(listener!, { path: "/user-agent", headers: { "user-agent": "tester/1" } })).body)).toEqual({ "user-agent": "tester/1" });
  });

  it("adopts a folder with no envoy.yaml by writing a fresh one, and with --envoy-config none one whose config loads the module from elsewhere", async () => {
    const source = path.join(await tempDir("envoywasm-src-"), "plain");
    await cp(path.join(EXAMPLES, "headers"), source, { recursive: true });
    const { rm } = await import("node:fs/promises");
    await rm(path.join(source, "envoy.yaml"));
    const root = await tempDir();
    const r = await runCli(["init", "--from", source, "adopted"], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("plain has no envoy.yaml: wrote a fresh one");
    const envoy = await readFile(path.join(root, "adopted/envoy.yaml"), "utf8");
    expect(envoy).toContain('filename: "build/adopted.wasm"');
    expect((await runCli(["build"], { cwd: path.join(root, "adopted") })).exitCode).toBe(0);
    // A config that loads the module from elsewhere (a URL): refused, with the flag that takes a fresh one instead.
    await writeFile(
      path.join(source, "envoy.yaml"),
      envoy.replace(
        /local:\s*\n\s*filename: "build\/adopted\.wasm"/,
        'remote: { http_uri: { uri: "https://example.com/p.wasm", cluster: backend, timeout: 5s }, sha256: "00" }',
      ),
    );
    expect(await readFile(path.join(source, "envoy.yaml"), "utf8")).toContain("remote:");
    const remote = await runCli(["init", "--from", source, "remote"], { cwd: root });
    expect(remote.exitCode).toBe(1);
    expect(remote.stderr).toContain("loads no Wasm module from a local file");
    expect(remote.stderr).toContain(
      "hint: envoywasm builds the plugin to a local file: add a Wasm filter that loads it, or take a fresh config instead: --envoy-config none",
    );
    const fresh = await runCli(["init", "--from", source, "fresh", "--envoy-config", "none"], { cwd: root });
    expect(fresh.exitCode, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain("--envoy-config none: wrote a fresh one");
    expect(await readFile(path.join(root, "fresh/envoy.yaml"), "utf8")).toContain('filename: "build/fresh.wasm"');
  });

  it("adopts a plugin Envoy runs as a service (bootstrap_extensions, no listener): built, run, its lines shown, stopped", async () => {
    const [admin] = await freePorts(1);
    const source = await userFolder("ticker", { 8001: admin! });
    const root = await tempDir();
    const r = await runCli(["init", "--from", source, "ticker"], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("the module path /etc/envoy/proxy-wasm-plugins/ticker.wasm is now build/ticker.wasm");
    // No listener runs it: up has no request to suggest.
    expect(r.stdout).toContain("  envoywasm up        # runs it, with its logs");
    const dir = path.join(root, "ticker");
    running.push({ dir, ports: [admin!] });
    const up = await runCli(["up", "-d"], { cwd: dir });
    expect(up.exitCode, up.stderr).toBe(0);
    await waitFor(async () => /tick 2\b/.test((await runCli(["logs", "--wasm"], { cwd: dir })).stdout), 20_000, "the service's second tick");
    expect((await runCli(["logs", "--wasm"], { cwd: dir })).stdout).toContain("ticker started");
  });

  it("adopts a plugin that makes no stream context, run as an HTTP filter (as the Go SDK's tick examples are): no request case, and its e2e run passes", async () => {
    const [listener, admin] = await freePorts(2);
    const source = await userFolder("ticker", {});
    // The ticker (a plugin context only) in a listener's http_filters: a request through it would make it panic, in any Envoy.
    await writeFile(
      path.join(source, "envoy.yaml"),
      [
        "static_resources:",
        "  listeners:",
        "    - name: main",
        `      address: { socket_address: { address: 0.0.0.0, port_value: ${listener} } }`,
        "      filter_chains:",
        "        - filters:",
        "            - name: envoy.http_connection_manager",
        "              typed_config:",
        '                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        "                stat_prefix: ingress_http",
        "                route_config:",
        '                  virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }]',
        "                http_filters:",
        "                  - name: envoy.filters.http.wasm",
        "                    typed_config:",
        '                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
        "                      config: { vm_config: { code: { local: { filename: ./examples/ticker/main.wasm } } } }",
        "                  - name: envoy.filters.http.router",
        '                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }',
        `admin: { address: { socket_address: { address: 0.0.0.0, port_value: ${admin} } } }`,
        "",
      ].join("\n"),
    );
    const root = await tempDir();
    const r = await runCli(["init", "--from", source, "ticker"], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "~ e2e/starter.yaml: no request case: the plugin makes no HTTP or TCP context, so a request through its filter would make it panic",
    );
    const dir = path.join(root, "ticker");
    expect(parse(await readFile(path.join(dir, "e2e/starter.yaml"), "utf8"))).toEqual({ cases: [] });
    expect(r.stdout).toContain("  envoywasm up        # runs it, with its logs");
    // Envoy still starts with the plugin; no case sends it a request.
    const e2e = await runCli(["test", "--e2e", "--json"], { cwd: dir });
    expect(e2e.exitCode, e2e.stderr + e2e.stdout).toBe(0);
    expect(JSON.parse(e2e.stdout)).toMatchObject({ passed: 0, failed: 0, runs: [{ cases: [] }] });
  });

  it("adopts a network (TCP) filter with no envoy.yaml: a fresh one runs it before a tcp_proxy to the backend, and HTTP goes through it", async () => {
    const [listener, admin, backend] = await freePorts(3);
    const source = await userFolder("tcp-counter", {});
    const root = await tempDir();
    const ports = ["--listener-port", String(listener), "--admin-port", String(admin), "--backend-port", String(backend)];
    const r = await runCli(["init", "--from", source, "tcp", ...ports], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `tcp-counter has no envoy.yaml: wrote a fresh one (listener 127.0.0.1:${listener}, the plugin as a network filter (it makes only TCP contexts) before a tcp_proxy, the backend)`,
    );
    const dir = path.join(root, "tcp");
    const envoyYaml = await readFile(path.join(dir, "envoy.yaml"), "utf8");
    expect(envoyYaml).toContain("# connection through the Wasm plugin, then proxies it to the backend");
    const filters = parse(envoyYaml).static_resources.listeners[0].filter_chains[0].filters as { name: string }[];
    expect(filters.map((f) => f.name)).toEqual(["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"]);
    // A starter case through the tcp_proxy (the backend speaks HTTP), so `envoywasm test` has one as init's Next: says.
    expect(parse(await readFile(path.join(dir, "e2e/starter.yaml"), "utf8")).cases).toEqual([
      { name: "GET / through the plugin and the tcp_proxy to the backend", request: { path: "/" }, expect: { noLogs: ["/panic/"] } },
    ]);
    // The plugin logs when the connection closes; a case that looks for a line it never writes fails on that alone,
    // not also on a missing end of the request (the tcp_proxy's access line ends a case, as the HTTP one does).
    await writeFile(
      path.join(dir, "e2e/tcp.yaml"),
      "cases:\n  - name: through\n    request: { path: /hello }\n    expect: { status: 200, body: 'hola mundo :)', logs: ['/connection done: \\d+ bytes in/'] }\n" +
        "  - name: a line it never writes\n    request: { path: /hello }\n    expect: { logs: ['/no such line/'] }\n",
    );
    const e2e = await runCli(["test", "--e2e", "--json"], { cwd: dir });
    expect(e2e.exitCode, e2e.stderr).toBe(1);
    const cases = (JSON.parse(e2e.stdout) as { runs: { cases: { name: string; ok: boolean; mismatches: { detail: string[] }[] }[] }[] }).runs[0]!.cases;
    expect(cases.map((c) => [c.name, c.ok])).toEqual([
      ["GET / through the plugin and the tcp_proxy to the backend", true],
      ["through", true],
      ["a line it never writes", false],
    ]);
    expect(JSON.stringify(cases[2]!.mismatches)).not.toContain("access line");
  });

  it("adopts two plugins of one Go module (main packages in folders, a package they share, as the SDK's shared_queue; one in cmd/, built as its name): each built, run, talking", async () => {
    const [listener, admin] = await freePorts(2);
    const source = await userFolder("relay", { 18000: listener!, 8001: admin! });
    // One plugin laid out as a Makefile's `go build -o forwarder.wasm ./cmd/forwarder` has it.
    await mkdir(path.join(source, "cmd"));
    await rename(path.join(source, "forwarder"), path.join(source, "cmd", "forwarder"));
    const config = path.join(source, "envoy.yaml");
    await writeFile(config, (await readFile(config, "utf8")).replace("./examples/relay/forwarder/main.wasm", "./forwarder.wasm"));
    const root = await tempDir();
    const r = await runCli(["init", "--from", source, "relay"], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("the module path ./examples/relay/counter/main.wasm is now build/counter.wasm (built from counter/)");
    expect(r.stdout).toContain("the module path ./forwarder.wasm is now build/forwarder.wasm (built from cmd/forwarder/)");
    const dir = path.join(root, "relay");
    expect((parse(await readFile(path.join(dir, "envoywasm.yaml"), "utf8")) as { plugins: string[] }).plugins).toEqual([
      "plugin/cmd/forwarder",
      "plugin/counter",
    ]);

    const built = await runCli(["build"], { cwd: dir });
    expect(built.exitCode, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/built build\/counter\.wasm/);
    expect(built.stderr).toMatch(/built build\/forwarder\.wasm/);
    const again = await runCli(["build"], { cwd: dir });
    expect(again.stderr.match(/is up to date/g)).toHaveLength(2);
    // The package both import is part of each plugin's sources.
    await writeFile(path.join(dir, "plugin", "queue", "queue.go"), `${await readFile(path.join(dir, "plugin", "queue", "queue.go"), "utf8")}\n// changed\n`);
    const changed = await runCli(["build"], { cwd: dir });
    expect(changed.stderr).not.toContain("is up to date");

    running.push({ dir, ports: [listener!, admin!] });
    const up = await runCli(["up", "-d"], { cwd: dir });
    expect(up.exitCode, up.stderr).toBe(0);
    const answer = await request(listener!, { path: "/relayed-once" });
    expect(answer.status).toBe(200);
    await waitFor(
      async () => (await runCli(["logs", "--wasm"], { cwd: dir })).stdout.includes("counted /relayed-once (1 so far)"),
      20_000,
      "the counter's line for the forwarded path",
    );
  });

  it("adopts a folder laid out like a repository: its Envoy config in test/fixtures/, its plugin in cmd/ beside a generator, a replace of a sibling module kept working", async () => {
    const [listener, admin, staticReply] = await freePorts(3);
    const source = await userFolder("headers", { 18000: listener!, 8001: admin!, 8099: staticReply! });
    const repo = path.dirname(path.dirname(source));
    // The config lives in test/fixtures/ (and a Kubernetes manifest in deploy/ is not one).
    await mkdir(path.join(source, "test", "fixtures"), { recursive: true });
    await rename(path.join(source, "envoy.yaml"), path.join(source, "test", "fixtures", "envoy.yaml"));
    await mkdir(path.join(source, "deploy"));
    await writeFile(path.join(source, "deploy", "plugin.yaml"), "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n");
    // A sibling module of the repository, used through a replace that points outside the folder.
    await mkdir(path.join(repo, "lib"));
    await writeFile(path.join(repo, "lib", "go.mod"), "module example.com/lib\n\ngo 1.24\n");
    await writeFile(path.join(repo, "lib", "lib.go"), 'package lib\n\nconst Greeting = "from the sibling module"\n');
    await writeFile(
      path.join(source, "go.mod"),
      `${await readFile(path.join(source, "go.mod"), "utf8")}\nrequire example.com/lib v0.0.0-00010101000000-000000000000\n\nreplace example.com/lib => ../../lib\n`,
    );
    const main = path.join(source, "main.go");
    await writeFile(
      main,
      (await readFile(main, "utf8"))
        .replace('"encoding/json"', '"encoding/json"\n\n\t"example.com/lib"')
        .replace("func main() {}", "func main() { _ = lib.Greeting }"),
    );
    // The plugin's main package in cmd/headers/, beside a generator's (a main package that does not use the SDK).
    await mkdir(path.join(source, "cmd", "headers"), { recursive: true });
    for (const f of ["main.go", "main_test.go"]) await rename(path.join(source, f), path.join(source, "cmd", "headers", f));
    await mkdir(path.join(source, "tools", "gen"), { recursive: true });
    await writeFile(path.join(source, "tools", "gen", "main.go"), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("// generated") }\n');
    await writeFile(path.join(source, "tools", "gen", "main_test.go"), 'package main\n\nimport "testing"\n\nfunc TestGenerator(t *testing.T) {}\n');
    const before = await treeHash(source);
    const root = await tempDir();
    const dir = path.join(root, "repo-like");

    const init = await runCli(["init", "--from", source, dir], { cwd: root });
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stdout).toContain("~ took test/fixtures/envoy.yaml as its Envoy config");
    expect(init.stdout).toContain(`~ plugin/go.mod: \`replace example.com/lib => ../../lib\` now names ${path.join(repo, "lib")}`);
    expect(init.stdout).toContain(
      "~ the plugin is the main package in cmd/headers/, the one that imports the proxy-wasm SDK: envoywasm.yaml lists it under plugins:",
    );
    expect((parse(await readFile(path.join(dir, "envoywasm.yaml"), "utf8")) as { plugins: string[] }).plugins).toEqual(["plugin/cmd/headers"]);
    expect(await treeHash(source)).toBe(before);
    const build = await runCli(["build"], { cwd: dir });
    expect(build.exitCode, build.stderr).toBe(0);
    expect(existsSync(path.join(dir, "build", "repo-like.wasm"))).toBe(true);
    // The plugin is its module's one main package on the SDK: the module's other packages' tests are its own too.
    const unit = await runCli(["test", "--unit"], { cwd: dir });
    expect(unit.exitCode, unit.stderr).toBe(0);
    expect(unit.stderr).toContain("• plugin/: go test");
    expect(unit.stderr).toMatch(/✔ \S+\/tools\/gen ok/);

    // --envoy-config as the folder names it (relative to the --from folder when it is not here); with --backend-port
    // for a config whose clusters all stay on the machine, a refusal that names the config and the others found.
    await writeFile(path.join(source, "deploy", "envoy.yaml"), await readFile(path.join(source, "test", "fixtures", "envoy.yaml")));
    const named = await runCli(["init", "--from", source, "named", "--envoy-config", "deploy/envoy.yaml"], { cwd: root });
    expect(named.exitCode, named.stderr).toBe(0);
    expect(named.stdout).toContain("~ took deploy/envoy.yaml as its Envoy config");
    // The config taken over is the project's envoy.yaml, not a second copy under plugin/; the others are the plugin's files.
    expect(existsSync(path.join(root, "named", "plugin", "deploy", "envoy.yaml"))).toBe(false);
    expect(existsSync(path.join(root, "named", "plugin", "test", "fixtures", "envoy.yaml"))).toBe(true);
    expect(existsSync(path.join(dir, "plugin", "test", "fixtures", "envoy.yaml"))).toBe(false);
    const missing = await runCli(["init", "--from", source, "missing", "--envoy-config", "nope.yaml"], { cwd: root });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`error: --envoy-config nope.yaml: no such file, here or in ${path.relative(root, source)}`);
    const noBackend = await runCli(["init", "--from", source, "nb", "--backend-port", String(staticReply)], { cwd: root });
    expect(noBackend.exitCode).toBe(2);
    expect(noBackend.stderr).toContain(`error: --backend-port: ${path.relative(root, path.join(source, "test", "fixtures", "envoy.yaml"))} has no cluster`);
    expect(noBackend.stderr).toContain(`--envoy-config (${path.relative(root, path.join(source, "deploy", "envoy.yaml"))})`);
  });

  it("a failed adoption leaves nothing behind, so trying again works", async () => {
    const [listener, admin, staticReply] = await freePorts(3);
    const source = await userFolder("headers", { 18000: listener!, 8001: admin!, 8099: staticReply! });
    const root = await tempDir();
    const dir = path.join(root, "retried");
    // go mod tidy cannot reach a module proxy with an empty module cache.
    const failed = await runCli(["init", "--from", source, dir], {
      cwd: root,
      env: { GOPROXY: "http://127.0.0.1:9", GOMODCACHE: await tempDir("envoywasm-modcache-"), GOFLAGS: "-modcacherw" },
    });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain("go mod tidy failed");
    expect(existsSync(dir)).toBe(false);
    // A go.mod that asks for a newer Go than this one, which GOTOOLCHAIN=local keeps from fetching it: said in two lines, nothing left.
    const gomod = path.join(source, "go.mod");
    const text = await readFile(gomod, "utf8");
    await writeFile(gomod, text.replace(/^go \S+$/m, "go 1.99.0"));
    const newer = await runCli(["init", "--from", source, dir], { cwd: root, env: { GOTOOLCHAIN: "local" } });
    expect(newer.exitCode).toBe(1);
    expect(newer.stderr).toMatch(
      /^error: plugin\/go\.mod asks for Go 1\.99\.0, and this Go is \S+ \(GOTOOLCHAIN=local: it fetches no other\)\nhint: install Go 1\.99\.0 or newer/m,
    );
    expect(existsSync(dir)).toBe(false);
    await writeFile(gomod, text);
    const retried = await runCli(["init", "--from", source, dir], { cwd: root });
    expect(retried.exitCode, retried.stderr).toBe(0);
  });

  it("refuses a Go folder that is not a plugin (a repository's root, the SDK itself, main packages only below), naming where they are, writing nothing", async () => {
    // A repository whose root module is a service, with the plugin in a module of its own below it.
    const repo = await tempDir();
    await writeFile(path.join(repo, "go.mod"), "module example.com/ext-authz\n\ngo 1.24\n");
    await writeFile(path.join(repo, "main.go"), "package main\n\nfunc main() {}\n");
    await cp(await userFolder("headers", {}), path.join(repo, "wasm-plugin"), { recursive: true });
    const cwd = await tempDir();
    const root = await runCli(["init", "--from", repo, "p"], { cwd });
    expect(root.exitCode).toBe(1);
    expect(root.stderr).toContain(`error: ${repo} is not a proxy-wasm plugin: its go.mod (module example.com/ext-authz) does not require a proxy-wasm Go SDK`);
    expect(root.stderr).toContain(`hint: the plugins are in folders of their own: wasm-plugin; e.g. envoywasm init --from ${path.join(repo, "wasm-plugin")}`);
    // The SDK itself: its module path, and its examples below.
    const sdk = await tempDir();
    await writeFile(path.join(sdk, "go.mod"), "module github.com/proxy-wasm/proxy-wasm-go-sdk\n\ngo 1.24\n");
    await cp(await userFolder("headers", {}), path.join(sdk, "examples", "http_headers"), { recursive: true });
    const itself = await runCli(["init", "--from", sdk, "q"], { cwd });
    expect(itself.exitCode).toBe(1);
    expect(itself.stderr).toContain("is the proxy-wasm Go SDK itself (module github.com/proxy-wasm/proxy-wasm-go-sdk)");
    expect(itself.stderr).toContain("the plugins are in folders of their own: examples/http_headers;");
    // One go.mod at the root, a main package in each sample's folder (service-extensions' layout), no config to say which.
    const samples = await tempDir();
    await cp(path.join(EXAMPLES, "headers", "go.mod"), path.join(samples, "go.mod"));
    for (const sample of ["add_header", "block_request"]) {
      await mkdir(path.join(samples, "samples", sample), { recursive: true });
      await cp(path.join(EXAMPLES, "headers", "main.go"), path.join(samples, "samples", sample, "plugin.go"));
    }
    const nested = await runCli(["init", "--from", samples, "s"], { cwd });
    expect(nested.exitCode).toBe(1);
    expect(nested.stderr).toContain(
      `error: ${samples} has no main package at its root to build a module from; its main packages are in samples/add_header, samples/block_request`,
    );
    expect(await readdir(cwd)).toEqual([]);
  });

  it("refuses to adopt into the folder itself, a folder without go.mod (saying how to make one, or where the plugins are), and template flags", async () => {
    const source = await userFolder("headers", {});
    const inside = await runCli(["init", "--from", ".", "."], { cwd: source });
    expect(inside.exitCode).toBe(2);
    expect(inside.stderr).toContain("the new project must be outside the folder it adopts");
    const empty = await tempDir();
    const noMod = await runCli(["init", "--from", empty, "x"], { cwd: await tempDir() });
    expect(noMod.exitCode).toBe(1);
    expect(noMod.stderr).toContain("has no go.mod or Cargo.toml: --from takes the folder of a Go proxy-wasm plugin (its own Go module) or a Rust one");
    // A repository's root with one plugin folder and its Envoy config in examples/: the command that adopts both.
    const withConfig = await tempDir();
    await cp(source, path.join(withConfig, "wasm"), { recursive: true });
    await mkdir(path.join(withConfig, "examples", "envoy"), { recursive: true });
    await rename(path.join(withConfig, "wasm", "envoy.yaml"), path.join(withConfig, "examples", "envoy", "envoy.yaml"));
    const rooted = await runCli(["init", "--from", withConfig, "x"], { cwd: await tempDir() });
    expect(rooted.exitCode).toBe(1);
    expect(rooted.stderr).toContain(
      `hint: the plugin is in wasm/ and its Envoy config in examples/envoy/envoy.yaml: envoywasm init --from ${path.join(withConfig, "wasm")} --envoy-config ${path.join(withConfig, "examples", "envoy", "envoy.yaml")}`,
    );
    // Go files on the SDK, without a module (service-extensions' samples): the commands that make them one.
    await cp(path.join(EXAMPLES, "headers", "main.go"), path.join(empty, "plugin.go"));
    const loose = await runCli(["init", "--from", empty, "x"], { cwd: await tempDir() });
    expect(loose.exitCode).toBe(1);
    expect(loose.stderr).toMatch(
      new RegExp(
        `hint: make its Go files a module first: cd ${empty} && go mod init example\\.com/\\S+ && go get github\\.com/proxy-wasm/proxy-wasm-go-sdk@v\\S+ && go mod tidy$`,
        "m",
      ),
    );
    // Files importing a package of their own as main/internal/… (a Makefile's `go mod init main`): that module path, or they do not build.
    await mkdir(path.join(empty, "internal", "routes"), { recursive: true });
    await writeFile(path.join(empty, "internal", "routes", "routes.go"), "package routes\n");
    await writeFile(path.join(empty, "routes.go"), 'package main\n\nimport (\n\t"fmt"\n\n\t"main/internal/routes"\n)\n');
    const ownImports = await runCli(["init", "--from", empty, "x"], { cwd: await tempDir() });
    expect(ownImports.stderr).toContain(`hint: make its Go files a module first: cd ${empty} && go mod init main && go get`);
    // A folder holding only folders of such files (service-extensions' plugins/samples/): they are named, with where to go.
    const samples = await tempDir();
    for (const sample of ["add_header", "log_calls"]) {
      await mkdir(path.join(samples, "go", sample), { recursive: true });
      await cp(path.join(EXAMPLES, "headers", "main.go"), path.join(samples, "go", sample, "plugin.go"));
    }
    await mkdir(path.join(samples, "docs"));
    await writeFile(path.join(samples, "docs", "tool.go"), "package main\n\nfunc main() {}\n");
    const folders = await runCli(["init", "--from", samples, "x"], { cwd: await tempDir() });
    expect(folders.exitCode).toBe(1);
    expect(folders.stderr).toContain(
      `hint: the plugins are in folders of their own: go/add_header, go/log_calls; e.g. envoywasm init --from ${path.join(samples, "go/add_header")}`,
    );
    // A repository's root with neither: the plugin crate below it is named (its SDK dependency written as a table).
    const repo = await tempDir();
    await mkdir(path.join(repo, "src"));
    await writeFile(
      path.join(repo, "src", "Cargo.toml"),
      '[package]\nname = "stat-filter"\nversion = "0.0.1"\n\n[lib]\npath = "lib.rs"\ncrate-type = ["cdylib"]\n\n[dependencies.proxy-wasm]\nversion = "0.1.3"\n',
    );
    const root = await runCli(["init", "--from", repo, "x"], { cwd: await tempDir() });
    expect(root.exitCode).toBe(1);
    expect(root.stderr).toContain(`hint: the plugins are in folders of their own: src; e.g. envoywasm init --from ${path.join(repo, "src")}`);
    const template = await runCli(["init", "--from", source, "y", "--template", "auth"], { cwd: await tempDir() });
    expect(template.exitCode).toBe(2);
    expect(template.stderr).toContain("--template does not go with --from");
  });
});
