import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePorts, removeTempDirs, runCli } from "../helpers/cli.js";
import { edit, newProject, statusOf, stopProjects } from "../helpers/project.js";
import { processesUnder, request } from "../helpers/run.js";

afterEach(stopProjects);
afterAll(removeTempDirs);

describe("envoy.yaml is the one place for Envoy's facts", () => {
  it("a listener and admin port changed only in envoy.yaml are the ones used, checked, printed and shown", async () => {
    const p = await newProject("add-header");
    const [listener, admin] = await freePorts(2);
    const file = path.join(p.dir, "envoy.yaml");
    edit(file, `port_value: ${p.ports.listener}`, `port_value: ${listener}`);
    edit(file, `port_value: ${p.ports.admin}`, `port_value: ${admin}`);
    p.ports = { ...p.ports, listener: listener!, admin: admin! };
    // The plugin configuration too: only envoy.yaml holds it.
    edit(file, `"value": "hello from ${p.name}"`, `"value": "from envoy.yaml"`);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toContain(`curl -i http://127.0.0.1:${listener}/hello`);
    expect((await request(listener!)).headers["x-envoywasm"]).toBe("from envoy.yaml");
    expect((await statusOf(p)).listeners).toEqual([{ name: "listener", port: listener }]);
  });

  it("checks every listener envoy.yaml has, not only the plugin's, and refuses one bound to 0.0.0.0 unless --expose, which warns", async () => {
    const p = await newProject("headers");
    const [extra] = await freePorts(1);
    const file = path.join(p.dir, "envoy.yaml");
    edit(
      file,
      "  clusters:",
      `    - name: second
      address:
        socket_address: { address: 127.0.0.1, port_value: ${extra} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: second
                route_config: { virtual_hosts: [{ name: s, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 204 } }] }] }
                http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  clusters:`,
    );
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(extra, "127.0.0.1", () => r()));
    try {
      const r = await runCli(["up"], { cwd: p.dir });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`port ${extra} \\(listener second, envoy\\.yaml:\\d+\\) is already in use`));
      expect(processesUnder(p.dir)).toEqual([]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // Envoy binds IP addresses only, and envoywasm reaches it over IPv4: a name or an IPv6 address is refused on its line, --expose or not.
    for (const [address, shown, said] of [
      ["localhost", "localhost", "but Envoy binds IP addresses only"],
      ['"::1"', "[::1]", "an IPv6 address; envoywasm reaches Envoy over IPv4 (127.0.0.1)"],
    ] as const) {
      edit(file, `address: 127.0.0.1, port_value: ${p.ports.listener}`, `address: ${address}, port_value: ${p.ports.listener}`);
      const refused = await runCli(["up", "--expose"], { cwd: p.dir });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(/error: envoy\.yaml:\d+: listener listener binds /);
      expect(refused.stderr).toContain(`listener listener binds ${shown}:${p.ports.listener}, ${said}`);
      edit(file, `address: ${address}, port_value: ${p.ports.listener}`, `address: 127.0.0.1, port_value: ${p.ports.listener}`);
    }
    edit(file, `address: 127.0.0.1, port_value: ${p.ports.listener}`, `address: 0.0.0.0, port_value: ${p.ports.listener}`);
    const r = await runCli(["up"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`envoy\\.yaml:\\d+: listener listener binds 0\\.0\\.0\\.0:${p.ports.listener}, which other machines can reach`));
    expect(r.stderr).toContain("hint: bind 127.0.0.1 in envoy.yaml, or run `envoywasm up --expose`");
    const exposed = await runCli(["up", "-d", "--expose"], { cwd: p.dir });
    expect(exposed.exitCode, exposed.stderr).toBe(0);
    expect(exposed.stderr).toContain("warning: --expose");
    expect((await request(extra!)).status).toBe(204);
    expect((await request(p.ports.listener)).status).toBe(200);
  });

  it("keeps a 0.1.0 project running, and says which lines of envoywasm.yaml to delete", async () => {
    const p = await newProject("headers");
    writeFileSync(
      path.join(p.dir, "envoywasm.yaml"),
      `name: ${p.name}\ntoolchain: go\nruntime: native\nplugin:\n  dir: plugin\n  wasm: build/${p.name}.wasm\n  rootId: ${p.name}\n  vmId: ${p.name}\n  config: {}\nenvoy:\n  config: envoy.yaml\n  logLevel: info\n  image: "envoyproxy/envoy:v1.40-latest"\nports:\n  listener: 1\n  admin: 2\n  backend: 3\nbackend:\n  dir: backend\n`,
    );
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain("warning: envoywasm.yaml is from envoywasm 0.1.0");
    expect(up.stderr).toContain("ports (lines 14-17), plugin (lines 4-9). Delete them; in place of plugin:, write `plugins: [plugin]`.");
    // Its stale ports: section (1, 2, 3) is not what runs: envoy.yaml's ports are.
    expect((await request(p.ports.listener)).status).toBe(200);
  });

  it("runs two plugins, each its own Go module and .wasm, chained in one listener", async () => {
    const p = await newProject("auth");
    const root = path.dirname(p.dir);
    // A second plugin: the add-header template's plugin folder, as plugins/adder; the auth one as plugins/auth.
    expect((await runCli(["init", "donor", "--template", "add-header"], { cwd: root })).exitCode).toBe(0);
    const { rename, cp } = await import("node:fs/promises");
    await cp(path.join(root, "donor", "plugin"), path.join(p.dir, "adder"), { recursive: true });
    await rename(path.join(p.dir, "plugin"), path.join(p.dir, "auth"));
    edit(path.join(p.dir, "envoywasm.yaml"), 'plugins:\n  - "plugin"', "plugins:\n  - auth\n  - adder");
    const envoyYaml = path.join(p.dir, "envoy.yaml");
    edit(envoyYaml, `filename: "build/${p.name}.wasm"`, 'filename: "build/auth.wasm"');
    const text = readFileSync(envoyYaml, "utf8");
    const start = text.indexOf("                  - name: envoy.filters.http.wasm");
    const end = text.indexOf("                  # Modern Envoy needs");
    const second = text
      .slice(start, end)
      .replace('filename: "build/auth.wasm"', 'filename: "build/adder.wasm"')
      .replace(/name: "up-auth"/, 'name: "adder"')
      .replace(/vm_id: "up-auth"/, 'vm_id: "adder"')
      .replace(/"header": "x-api-key",\n(\s+)"value": "let-me-in"/, '"header": "x-chained",\n$1"value": "both ran"');
    writeFileSync(envoyYaml, text.slice(0, end) + second + text.slice(end));

    const built = await runCli(["build", "--json"], { cwd: p.dir });
    expect(built.exitCode, built.stderr).toBe(0);
    expect((JSON.parse(built.stdout) as { plugins: { dir: string; wasm: string }[] }).plugins.map((x) => [x.dir, path.basename(x.wasm)])).toEqual([
      ["auth", "auth.wasm"],
      ["adder", "adder.wasm"],
    ]);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(p.ports.listener)).status).toBe(403);
    const ok = await request(p.ports.listener, { headers: { "x-api-key": "let-me-in" } });
    expect(ok.status).toBe(200);
    expect(ok.headers["x-chained"]).toBe("both ran");
    expect((await statusOf(p)).modules.map((m) => m.plugin)).toEqual(["auth", "adder"]);
  });
});
