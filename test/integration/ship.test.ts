import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type Docker from "dockerode";
import { execa } from "execa";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { connectDocker } from "../../src/platform/docker.js";
import { onPath } from "../../src/platform/which.js";
import { freePort, freePorts, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { request, waitFor } from "../helpers/run.js";
import { startRegistry, stopProcess, type Registry } from "../helpers/registry.js";

/**
 * package → push → export, with real parts only: Go builds, the Docker
 * engine, a docker-registry process per test, the real CRD schemas of Istio
 * and Envoy Gateway, and a real Envoy fetching the module over HTTP.
 */

const ENVOY = process.env.ENVOYWASM_TEST_ENVOY ?? "envoy";
const HTPASSWD_TOOL = fileURLToPath(new URL("../fixtures/ship/htpasswd/", import.meta.url));
const NAME = "shipdemo";
const DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

let docker: Docker;
let project: string;
/** A Docker config folder with no credentials in it. */
let noCredentials: string;
const cleanups: (() => Promise<unknown>)[] = [];
const imageIds = new Set<string>();

beforeAll(async () => {
  if (onPath("docker-registry") === undefined) {
    throw new Error("docker-registry is not on PATH: the ship tests push to a real registry (Debian/Ubuntu: apt-get install docker-registry)");
  }
  try {
    docker = await connectDocker();
  } catch (error) {
    throw new Error(`the ship tests need the Docker engine: ${(error as Error).message}`, { cause: error });
  }
  const root = await tempDir("envoywasm-ship-");
  const r = await runCli(["init", NAME, "--template", "add-header", "--yes"], { cwd: root });
  expect(r.exitCode, r.stderr).toBe(0);
  project = path.join(root, NAME);
  noCredentials = await tempDir("envoywasm-ship-docker-");
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  for (const id of imageIds)
    await docker
      ?.getImage(id)
      .remove({ force: true })
      .catch(() => {});
  await removeTempDirs();
});

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Remembers an image (by id, so every tag of it goes) for removal after the tests. */
async function track(ref: string): Promise<Docker.ImageInspectInfo> {
  const info = await docker.getImage(ref).inspect();
  imageIds.add(info.Id);
  return info;
}

/** A registry for one test, stopped with the test's other cleanups. */
async function startTestRegistry(options: { htpasswd?: string } = {}): Promise<Registry> {
  const registry = await startRegistry(options);
  cleanups.push(registry.stop);
  return registry;
}

/** The files of a tar archive (a stream or a buffer). */
async function untar(source: NodeJS.ReadableStream | Buffer): Promise<Map<string, { header: tar.Header; data: Buffer }>> {
  const entries = new Map<string, { header: tar.Header; data: Buffer }>();
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: unknown) => chunks.push(c as Buffer));
    stream.on("end", () => {
      entries.set(header.name.replace(/^\.\//, ""), { header, data: Buffer.concat(chunks) });
      next();
    });
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  if (Buffer.isBuffer(source)) extract.end(source);
  else source.pipe(extract);
  await done;
  return entries;
}

/** plugin.wasm from `docker save` of a local image. */
async function moduleInLocalImage(ref: string): Promise<Buffer> {
  const saved = await untar(await docker.getImage(ref).get());
  const manifest = JSON.parse(saved.get("manifest.json")!.data.toString()) as { Layers: string[] }[];
  expect(manifest[0]!.Layers).toHaveLength(1);
  const layer = await untar(saved.get(manifest[0]!.Layers[0]!)!.data);
  expect([...layer.keys()]).toEqual(["plugin.wasm"]);
  return layer.get("plugin.wasm")!.data;
}

function dockerConfig(config: unknown): Promise<string> {
  return tempDir("envoywasm-ship-docker-").then(async (dir) => {
    await writeFile(path.join(dir, "config.json"), JSON.stringify(config));
    return dir;
  });
}

async function builtModule(dir = project, file = `build/${NAME}.wasm`): Promise<Buffer> {
  return readFile(path.join(dir, file));
}

describe("envoywasm package and push (Docker engine, docker-registry)", () => {
  it("pushes the module's image; pulled back, it holds the built module byte for byte, under the digest recorded for export", async () => {
    const registry = await startTestRegistry();
    const ref = `${registry.host}/${NAME}:v1`;

    const pkg = await runCli(["package", "--tag", ref, "--json"], { cwd: project });
    expect(pkg.exitCode, pkg.stderr).toBe(0);
    const packaged = JSON.parse(pkg.stdout) as { image: string; moduleSha256: string };
    const wasm = await builtModule();
    expect(packaged).toEqual({ image: ref, moduleSha256: sha256(wasm) });
    const info = await track(ref);
    expect(info.Config.Labels).toMatchObject({ "module.wasm.image/variant": "compat", "io.envoywasm.module.sha256": sha256(wasm) });
    // The build context was a tar in memory: no Dockerfile in the project.
    const files = await readdir(project, { recursive: true });
    expect(files.filter((f) => path.basename(String(f)) === "Dockerfile")).toEqual([]);

    const pushed = await runCli(["push", ref], { cwd: project, env: { DOCKER_CONFIG: noCredentials } });
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    const digest = pushed.stdout.trim();
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(pushed.stderr).toMatch(/pushed/);

    // The registry stores that manifest under that digest.
    const answer = await fetch(`http://${registry.host}/v2/${NAME}/manifests/v1`, { headers: { Accept: `${DOCKER_V2}, ${OCI_MANIFEST}` } });
    expect(answer.status).toBe(200);
    const body = Buffer.from(await answer.arrayBuffer());
    expect(answer.headers.get("docker-content-digest")).toBe(digest);
    expect(`sha256:${sha256(body)}`).toBe(digest);
    const record = JSON.parse(await readFile(path.join(project, ".envoywasm/ship.json"), "utf8")) as Record<
      string,
      { image: string; digest: string; moduleSha256: string; pushedAt: string }
    >;
    expect(record.plugin).toMatchObject({ image: ref, digest, moduleSha256: sha256(wasm) });
    expect(Number.isNaN(Date.parse(record.plugin!.pushedAt))).toBe(false);

    // What Istio's and Envoy Gateway's pullers read: the last layer, gzip, holding plugin.wasm.
    const manifest = JSON.parse(body.toString()) as { mediaType: string; layers: { mediaType: string; digest: string }[] };
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]!.mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
    const blob = Buffer.from(await (await fetch(`http://${registry.host}/v2/${NAME}/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer());
    const layer = await untar(gunzipSync(blob));
    expect([...layer.keys()]).toEqual(["plugin.wasm"]);
    expect(sha256(layer.get("plugin.wasm")!.data)).toBe(sha256(wasm));

    // Gone from the engine, pulled back, the same module.
    await docker.getImage(ref).remove();
    const pull = await execa("docker", ["pull", ref], { reject: false, all: true, env: { DOCKER_CONFIG: noCredentials } });
    expect(pull.exitCode, pull.all).toBe(0);
    await track(ref);
    expect((await moduleInLocalImage(ref)).equals(wasm)).toBe(true);

    // export finds the push without being told.
    const exported = await runCli(["export", "istio"], { cwd: project });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const plugin = parse(exported.stdout) as { spec: { url: string; sha256: string } };
    expect(plugin.spec.url).toBe(`oci://${ref}`);
    expect(plugin.spec.sha256).toBe(digest.slice("sha256:".length));
  });

  it("push: credentials from Docker's config or a credential helper, never shown; clear errors for a refused login, an unknown image, an unreachable registry", async () => {
    const password = `pw-${sha256(String(Math.random())).slice(0, 16)}`;
    const line = await execa("go", ["run", ".", "shipper", password], { cwd: HTPASSWD_TOOL, reject: false, all: true });
    expect(line.exitCode, line.all).toBe(0);
    const registry = await startTestRegistry({ htpasswd: line.stdout });
    const ref = `${registry.host}/${NAME}:auth`;
    const pkg = await runCli(["package", "--tag", ref], { cwd: project });
    expect(pkg.exitCode, pkg.stderr).toBe(0);
    expect(pkg.stdout.trim()).toBe(ref);
    await track(ref);
    const secrets = [password, Buffer.from(`shipper:${password}`).toString("base64")];
    const expectNoSecret = (text: string) => {
      for (const s of secrets) expect(text).not.toContain(s);
    };

    const anonymous = await runCli(["push", ref], { cwd: project, env: { DOCKER_CONFIG: noCredentials } });
    expect(anonymous.exitCode).toBe(1);
    expect(anonymous.stderr).toContain(`${registry.host} refused the push`);
    expect(anonymous.stderr).toContain(`docker login ${registry.host}`);

    const wrong = await dockerConfig({ auths: { [registry.host]: { auth: Buffer.from("shipper:not-it").toString("base64") } } });
    const refused = await runCli(["push", ref], { cwd: project, env: { DOCKER_CONFIG: wrong } });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/refused the push.*(unauthorized|authentication required)/);
    expect(refused.stderr).toContain("saved login was refused");

    const saved = await dockerConfig({ auths: { [`http://${registry.host}`]: { auth: secrets[1] } } });
    const withLogin = await runCli(["--verbose", "push", ref, "--json"], { cwd: project, env: { DOCKER_CONFIG: saved } });
    expect(withLogin.exitCode, withLogin.stderr).toBe(0);
    expect(JSON.parse(withLogin.stdout)).toMatchObject({ image: ref, digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/) });
    expect(withLogin.stderr).toContain(`registry credentials: auths in ${path.join(saved, "config.json")}`);
    expectNoSecret(withLogin.stdout + withLogin.stderr);

    // A credential helper, asked with the registry on stdin as docker-credential-* helpers are.
    const bin = await tempDir("envoywasm-ship-bin-");
    const asked = path.join(bin, "asked");
    const helper = path.join(bin, "docker-credential-envoywasmtest");
    await writeFile(
      helper,
      `#!${process.execPath}
const fs = require("fs");
const host = fs.readFileSync(0, "utf8").trim();
fs.appendFileSync(${JSON.stringify(asked)}, host + "\\n");
if (host !== ${JSON.stringify(registry.host)}) { console.log("credentials not found in native keychain"); process.exit(1); }
process.stdout.write(JSON.stringify({ ServerURL: host, Username: "shipper", Secret: ${JSON.stringify(password)} }));
`,
    );
    await chmod(helper, 0o755);
    const helped = await dockerConfig({ credHelpers: { [registry.host]: "envoywasmtest" } });
    const viaHelper = await runCli(["--verbose", "push", ref], {
      cwd: project,
      env: { DOCKER_CONFIG: helped, PATH: `${bin}${path.delimiter}${process.env.PATH}` },
    });
    expect(viaHelper.exitCode, viaHelper.stderr).toBe(0);
    expect(await readFile(asked, "utf8")).toBe(`${registry.host}\n`);
    expect(viaHelper.stderr).toContain("credential helper docker-credential-envoywasmtest");
    expectNoSecret(viaHelper.stdout + viaHelper.stderr);

    const store = await dockerConfig({ credsStore: "envoywasm-not-installed" });
    const noHelper = await runCli(["push", ref], { cwd: project, env: { DOCKER_CONFIG: store } });
    expect(noHelper.exitCode).toBe(1);
    expect(noHelper.stderr).toContain("docker-credential-envoywasm-not-installed cannot be run");

    const unknown = await runCli(["push", `${registry.host}/${NAME}:never-packaged`], { cwd: project, env: { DOCKER_CONFIG: noCredentials } });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain(`there is no local image ${registry.host}/${NAME}:never-packaged`);
    expect(unknown.stderr).toContain("envoywasm package --tag");

    const closed = `127.0.0.1:${await freePort()}/${NAME}:nowhere`;
    await docker.getImage(ref).tag({ repo: closed.slice(0, closed.lastIndexOf(":")), tag: "nowhere" });
    const unreachable = await runCli(["push", closed], { cwd: project, env: { DOCKER_CONFIG: noCredentials } });
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach the registry ${closed.split("/")[0]}`);
    expect(unreachable.stderr).toMatch(/connection refused/);

    const bad = await runCli(["push", "Not A Ref"], { cwd: project });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("not a valid image reference");
  });

  it("package --oci-layout writes a valid, reproducible OCI layout with no engine, and docker load takes a tar of it", async () => {
    const wasmBuilt = async () => builtModule();
    const a = path.join(await tempDir("envoywasm-oci-"), "layout");
    const b = path.join(await tempDir("envoywasm-oci-"), "layout");
    const tag = `${NAME}-oci:${sha256(String(Math.random())).slice(0, 8)}`;
    const first = await runCli(["package", "--oci-layout", a, "--tag", tag, "--json"], { cwd: project });
    expect(first.exitCode, first.stderr).toBe(0);
    const second = await runCli(["package", "--oci-layout", b, "--tag", tag, "--json"], { cwd: project });
    expect(second.exitCode, second.stderr).toBe(0);
    const out = JSON.parse(first.stdout) as { image: string; moduleSha256: string; ociLayout: string; manifestDigest: string };
    const wasm = await wasmBuilt();
    expect(out).toMatchObject({ image: tag, moduleSha256: sha256(wasm), ociLayout: a });
    // The same module gives the same bytes.
    expect((JSON.parse(second.stdout) as { manifestDigest: string }).manifestDigest).toBe(out.manifestDigest);
    expect((await readdir(path.join(a, "blobs/sha256"))).sort()).toEqual((await readdir(path.join(b, "blobs/sha256"))).sort());

    // Every blob hashes to its name.
    const blobs = new Map<string, Buffer>();
    for (const name of await readdir(path.join(a, "blobs/sha256"))) {
      const data = await readFile(path.join(a, "blobs/sha256", name));
      expect(sha256(data), `blob ${name}`).toBe(name);
      blobs.set(`sha256:${name}`, data);
    }
    expect(JSON.parse(await readFile(path.join(a, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(await readFile(path.join(a, "index.json"), "utf8")) as {
      schemaVersion: number;
      manifests: { mediaType: string; digest: string; size: number }[];
    };
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests).toHaveLength(1);
    const entry = index.manifests[0]!;
    expect(entry).toMatchObject({ mediaType: OCI_MANIFEST, digest: out.manifestDigest });
    const manifestBytes = blobs.get(entry.digest)!;
    expect(manifestBytes.length).toBe(entry.size);
    const manifest = JSON.parse(manifestBytes.toString()) as {
      schemaVersion: number;
      mediaType: string;
      config: { mediaType: string; digest: string; size: number };
      layers: { mediaType: string; digest: string; size: number }[];
      annotations: Record<string, string>;
    };
    expect(manifest).toMatchObject({ schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { "module.wasm.image/variant": "compat" } });
    expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(blobs.get(manifest.config.digest)!.length).toBe(manifest.config.size);
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    const gz = blobs.get(manifest.layers[0]!.digest)!;
    expect(gz.length).toBe(manifest.layers[0]!.size);
    const layerTar = gunzipSync(gz);
    const config = JSON.parse(blobs.get(manifest.config.digest)!.toString()) as {
      architecture: string;
      os: string;
      rootfs: { type: string; diff_ids: string[] };
    };
    expect(config).toMatchObject({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layerTar)}`] } });
    const files = await untar(layerTar);
    expect([...files.keys()]).toEqual(["plugin.wasm"]);
    const file = files.get("plugin.wasm")!;
    expect(file.data.equals(wasm)).toBe(true);
    expect(file.header).toMatchObject({ mode: 0o644, uid: 0, gid: 0 });
    expect(file.header.mtime?.getTime()).toBe(0);
    expect(JSON.parse(await readFile(path.join(a, "manifest.json"), "utf8"))).toEqual([
      { Config: `blobs/sha256/${manifest.config.digest.slice(7)}`, RepoTags: [tag], Layers: [`blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`] },
    ]);

    // Docker 20.10 loads it through manifest.json.
    const archive = await execa("tar", ["-C", a, "-cf", "-", "."], { encoding: "buffer" });
    const load = await execa("docker", ["load"], { input: archive.stdout, reject: false, all: true });
    expect(load.exitCode, String(load.all)).toBe(0);
    const info = await track(tag);
    expect(info.Id).toBe(manifest.config.digest);
    expect(info.Config.Labels).toMatchObject({ "module.wasm.image/variant": "compat" });
    expect((await moduleInLocalImage(tag)).equals(wasm)).toBe(true);

    // A folder with something else in it is not overwritten.
    const busy = await tempDir("envoywasm-oci-");
    await writeFile(path.join(busy, "notes.txt"), "mine");
    const refused = await runCli(["package", "--oci-layout", busy], { cwd: project });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("a folder with other files in it");
  });
});

// --- the CRDs, from the Go module proxy ----------------------------------------------

interface Crd {
  spec: { versions: { name: string; served: boolean; schema: { openAPIV3Schema: object } }[] };
  metadata: { name: string };
}

async function moduleDir(module: string): Promise<string> {
  const r = await execa("go", ["mod", "download", "-json", module], { cwd: await tempDir("envoywasm-crd-"), reject: false, all: true });
  expect(r.exitCode, `go mod download ${module}: ${r.all}`).toBe(0);
  return (JSON.parse(r.stdout) as { Dir: string }).Dir;
}

async function crdValidator(file: string, name: string, version: string): Promise<ValidateFunction> {
  const docs = parseAllDocuments(await readFile(file, "utf8")).map((d) => d.toJS() as Crd | null);
  const crd = docs.find((d) => d?.metadata?.name === name);
  expect(crd, `${name} in ${file}`).toBeDefined();
  const v = crd!.spec.versions.find((x) => x.name === version);
  expect(v, `${name} ${version}`).toBeDefined();
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(v!.schema.openAPIV3Schema);
}

function expectValid(validate: ValidateFunction, doc: unknown, what: string): void {
  const ok = validate(doc);
  expect(ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`), what).toEqual([]);
}

/** The CEL rules (x-kubernetes-validations) of WasmPlugin that ajv does not run. */
function istioCel(doc: { spec: Record<string, unknown> }): string[] {
  const errors: string[] = [];
  const s = doc.spec;
  if (Number("selector" in s) + Number("targetRef" in s) + Number("targetRefs" in s) > 1) errors.push("only one of targetRefs or selector can be set");
  const url = String(s.url);
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(url)?.[1] ?? "";
  if (!["", "http", "https", "oci", "file"].includes(scheme)) errors.push("url must have schema one of [http, https, file, oci]");
  return errors;
}

/** The CEL rules of EnvoyExtensionPolicy that matter here, and a sha256 check its CRD lacks. */
function gatewayCel(doc: {
  spec: { targetRefs?: { group: string; kind: string }[]; wasm: { code: { type: string; image?: { sha256?: string }; http?: { sha256?: string } } }[] };
}): string[] {
  const errors: string[] = [];
  const refs = doc.spec.targetRefs;
  if (refs === undefined) errors.push("either targetRef or targetRefs must be used");
  for (const ref of refs ?? []) {
    if (ref.group !== "gateway.networking.k8s.io") errors.push("targetRefs[*].group must be gateway.networking.k8s.io");
    if (!["Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute", "UDPRoute", "TCPRoute", "TLSRoute"].includes(ref.kind))
      errors.push(`targetRefs[*].kind ${ref.kind}`);
  }
  for (const w of doc.spec.wasm) {
    if ((w.code.type === "Image") !== (w.code.image !== undefined)) errors.push("If type is Image, image field needs to be set.");
    if ((w.code.type === "HTTP") !== (w.code.http !== undefined)) errors.push("If type is HTTP, http field needs to be set.");
    const sha = w.code.image?.sha256 ?? w.code.http?.sha256;
    if (sha !== undefined && !/^[a-f0-9]{64}$/.test(sha)) errors.push(`sha256 ${sha} is not 64 hex digits`);
  }
  return errors;
}

/** The plugin settings envoy.yaml gives the filter, for comparing with what was exported. */
async function envoyYamlPlugin(
  dir: string,
): Promise<{ name: string; root_id: string; configuration: { value: string }; failure_policy: string; vm_config: { vm_id: string } }> {
  const envoy = parse(await readFile(path.join(dir, "envoy.yaml"), "utf8")) as {
    static_resources: { listeners: { filter_chains: { filters: { typed_config: { http_filters: { typed_config: { config: unknown } }[] } }[] }[] }[] };
  };
  return envoy.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters[0]!.typed_config.config as never;
}

describe("envoywasm export", () => {
  it("writes an Istio WasmPlugin and an Envoy Gateway EnvoyExtensionPolicy that the real CRD schemas accept, from envoy.yaml", async () => {
    const [istioDir, gatewayDir] = [await moduleDir("istio.io/api@v1.32.0"), await moduleDir("github.com/envoyproxy/gateway@v1.9.1")];
    const istio = await crdValidator(path.join(istioDir, "kubernetes/customresourcedefinitions.gen.yaml"), "wasmplugins.extensions.istio.io", "v1alpha1");
    const gateway = await crdValidator(
      path.join(gatewayDir, "charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_envoyextensionpolicies.yaml"),
      "envoyextensionpolicies.gateway.envoyproxy.io",
      "v1alpha1",
    );
    const local = await envoyYamlPlugin(project);
    const config = JSON.parse(local.configuration.value) as Record<string, unknown>;
    expect(Object.keys(config).length).toBeGreaterThan(0);
    const moduleSha = sha256(await builtModule());
    const digest = "a".repeat(64);
    const image = "ghcr.io/acme/shipdemo:v1";

    // oci, with the image and digest given
    const i1 = await runCli(["export", "istio", "--image", image, "--sha256", `sha256:${digest}`, "--phase", "AUTHZ"], { cwd: project });
    expect(i1.exitCode, i1.stderr).toBe(0);
    expect(i1.stdout).toMatch(/^# Made by: envoywasm export istio --image/);
    expect(i1.stdout).toContain(`sha256 ${moduleSha}`);
    expect(i1.stdout).toContain("kubectl apply");
    expect(i1.stdout).toMatch(/# PLACEHOLDER[^\n]*\n[^\n]*\n\s+selector:/);
    const wp = parse(i1.stdout) as { spec: Record<string, unknown> };
    expectValid(istio, wp, "WasmPlugin (oci)");
    expect(istioCel(wp)).toEqual([]);
    expect(wp.spec).toEqual({
      selector: { matchLabels: { app: NAME } },
      url: `oci://${image}`,
      sha256: digest,
      pluginName: local.root_id || local.name,
      phase: "AUTHZ",
      failStrategy: { FAIL_CLOSED: "FAIL_CLOSE", FAIL_OPEN: "FAIL_OPEN", FAIL_RELOAD: "FAIL_RELOAD" }[local.failure_policy],
      type: "HTTP",
      pluginConfig: config,
    });

    // http(s): the module's own sha256
    const i2 = await runCli(["export", "istio", "--url", "https://downloads.example.com/shipdemo.wasm"], { cwd: project });
    expect(i2.exitCode, i2.stderr).toBe(0);
    const wpHttp = parse(i2.stdout) as { spec: Record<string, unknown> };
    expectValid(istio, wpHttp, "WasmPlugin (https)");
    expect(istioCel(wpHttp)).toEqual([]);
    expect(wpHttp.spec).toMatchObject({ url: "https://downloads.example.com/shipdemo.wasm", sha256: moduleSha, phase: "UNSPECIFIED_PHASE" });

    const out = await tempDir("envoywasm-export-");
    const g1 = await runCli(["export", "envoy-gateway", "--image", `oci://${image}`, "--sha256", digest, "--out", out], { cwd: project });
    expect(g1.exitCode, g1.stderr).toBe(0);
    const file = path.join(out, `${NAME}-envoyextensionpolicy.yaml`);
    expect(g1.stdout.trim()).toBe(file);
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/# PLACEHOLDER[^\n]*\n\s+targetRefs:/);
    const eep = parse(text) as Parameters<typeof gatewayCel>[0] & { spec: { wasm: Record<string, unknown>[] } };
    expectValid(gateway, eep, "EnvoyExtensionPolicy (image)");
    expect(gatewayCel(eep)).toEqual([]);
    expect(eep.spec.targetRefs).toEqual([{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: NAME }]);
    expect(eep.spec.wasm).toEqual([
      {
        name: local.name,
        ...(local.root_id === "" ? {} : { rootID: local.root_id }),
        code: { type: "Image", image: { url: image, sha256: digest } },
        config,
        failOpen: local.failure_policy === "FAIL_OPEN",
      },
    ]);

    const g2 = await runCli(["export", "envoy-gateway", "--url", "http://wasm.internal:8080/shipdemo.wasm"], { cwd: project });
    expect(g2.exitCode, g2.stderr).toBe(0);
    const eepHttp = parse(g2.stdout) as Parameters<typeof gatewayCel>[0] & { spec: { wasm: Record<string, unknown>[] } };
    expectValid(gateway, eepHttp, "EnvoyExtensionPolicy (http)");
    expect(gatewayCel(eepHttp)).toEqual([]);
    expect(eepHttp.spec.wasm[0]!.code).toEqual({ type: "HTTP", http: { url: "http://wasm.internal:8080/shipdemo.wasm", sha256: moduleSha } });

    // The checks can fail: a manifest with what the CEL rules forbid is caught.
    expect(gatewayCel({ spec: { targetRefs: [{ group: "x", kind: "Service" }], wasm: [{ code: { type: "Image", http: { sha256: "ABC" } } }] } }).length).toBe(
      5,
    );
    expect(istio({ ...wp, spec: { ...wp.spec, sha256: "ABC", failStrategy: "FAIL_CLOSED" } })).toBe(false);
  });

  it("says what is missing or wrong: no push yet, a bad sha256 or URL, a configuration that is not a JSON object, several plugins", async () => {
    const root = await tempDir("envoywasm-ship-");
    expect((await runCli(["init", "other", "--template", "headers", "--yes"], { cwd: root })).exitCode).toBe(0);
    const dir = path.join(root, "other");

    const noPush = await runCli(["export", "istio"], { cwd: dir });
    expect(noPush.exitCode).toBe(1);
    expect(noPush.stderr).toContain("envoywasm package");
    expect(noPush.stderr).toContain("envoywasm push");
    expect(noPush.stderr).toContain("--image <ref> and --sha256");

    const badSha = await runCli(["export", "envoy-gateway", "--image", "ghcr.io/a/b:1", "--sha256", "1234"], { cwd: dir });
    expect(badSha.exitCode).toBe(2);
    expect(badSha.stderr).toContain("64 lowercase hex digits");
    const noUrl = await runCli(["export", "envoy"], { cwd: dir });
    expect(noUrl.exitCode).toBe(2);
    expect(noUrl.stderr).toContain("needs --url");
    const ftp = await runCli(["export", "envoy", "--url", "ftp://x/y.wasm"], { cwd: dir });
    expect(ftp.exitCode).toBe(2);
    const wrongTarget = await runCli(["export", "kong"], { cwd: dir });
    expect(wrongTarget.exitCode).toBe(2);
    expect(wrongTarget.stderr).toContain("envoy-gateway");

    // A second plugin folder, loaded by a second filter as plugin2.wasm.
    const envoyFile = path.join(dir, "envoy.yaml");
    const envoy = parse(await readFile(envoyFile, "utf8")) as {
      static_resources: { listeners: { filter_chains: { filters: { typed_config: { http_filters: Record<string, unknown>[] } }[] }[] }[] };
    };
    const filters = envoy.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters;
    const first = filters[0] as {
      typed_config: { config: { name: string; vm_config: { vm_id: string; code: { local: { filename: string } } }; configuration: { value: string } } };
    };
    first.typed_config.config.vm_config.code.local.filename = "build/plugin.wasm";
    const second = structuredClone(first);
    second.typed_config.config.name = "second";
    second.typed_config.config.vm_config.vm_id = "second";
    second.typed_config.config.vm_config.code.local.filename = "build/plugin2.wasm";
    second.typed_config.config.configuration.value = "[1, 2]";
    filters.splice(1, 0, second);
    await writeFile(envoyFile, stringify(envoy));
    await execa("cp", ["-r", path.join(dir, "plugin"), path.join(dir, "plugin2")]);
    const projectFile = path.join(dir, "envoywasm.yaml");
    await writeFile(projectFile, (await readFile(projectFile, "utf8")).replace(/plugins:\n\s+- "?plugin"?\n/, "plugins:\n  - plugin\n  - plugin2\n"));

    const ambiguous = await runCli(["export", "istio", "--url", "https://x.example/p.wasm"], { cwd: dir });
    expect(ambiguous.exitCode, ambiguous.stderr).toBe(2);
    expect(ambiguous.stderr).toContain("2 plugins (plugin, plugin2)");
    expect(ambiguous.stderr).toContain("--plugin");

    const notObject = await runCli(["export", "istio", "--plugin", "plugin2/", "--url", "https://x.example/p.wasm"], { cwd: dir });
    expect(notObject.exitCode, notObject.stderr).toBe(1);
    expect(notObject.stderr).toContain("the plugin configuration is JSON array");

    // A plain Envoy takes any configuration: it is kept as written.
    const plain = await runCli(["export", "envoy", "--plugin", "plugin2", "--url", "https://x.example/p.wasm"], { cwd: dir });
    expect(plain.exitCode, plain.stderr).toBe(0);
    const part = parse(plain.stdout) as {
      http_filters: { typed_config: { config: { name: string; configuration: { value: string }; vm_config: { code: { remote: { sha256: string } } } } } }[];
      clusters: Record<string, unknown>[];
    };
    const cfg = part.http_filters[0]!.typed_config.config;
    expect(cfg.name).toBe("second");
    expect(cfg.configuration.value).toBe("[1, 2]");
    expect(cfg.vm_config.code.remote.sha256).toBe(sha256(await builtModule(dir, "build/plugin2.wasm")));
    expect(part.clusters[0]).toMatchObject({ type: "STRICT_DNS", transport_socket: { typed_config: { sni: "x.example" } } });
  });

  it("the plain-Envoy export runs in a real Envoy that fetches the module over HTTP and checks its sha256; a wrong sha256 is refused", async () => {
    const wasm = await builtModule();
    let fetched = 0;
    const server = http.createServer((req, res) => {
      if (req.url === `/${NAME}.wasm`) {
        fetched++;
        res.writeHead(200, { "content-type": "application/wasm", "content-length": wasm.length });
        res.end(wasm);
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("backend ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const serverPort = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${serverPort}/${NAME}.wasm`;

    const good = await runCli(["export", "envoy", "--url", url], { cwd: project });
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout).toContain("before envoy.filters.http.router");
    const exported = parse(good.stdout) as { http_filters: { typed_config: { config: Record<string, unknown> } }[]; clusters: { name: string }[] };
    const local = await envoyYamlPlugin(project);
    const config = exported.http_filters[0]!.typed_config.config as typeof local & {
      vm_config: { code: { remote: { sha256: string; http_uri: { cluster: string } } } };
    };
    expect({
      name: config.name,
      root_id: config.root_id,
      vm_id: config.vm_config.vm_id,
      configuration: config.configuration,
      failure_policy: config.failure_policy,
    }).toEqual({
      name: local.name,
      root_id: local.root_id,
      vm_id: local.vm_config.vm_id,
      configuration: local.configuration,
      failure_policy: local.failure_policy,
    });
    expect(config.vm_config.code.remote.sha256).toBe(sha256(wasm));
    expect(config.vm_config.code.remote.http_uri.cluster).toBe(exported.clusters[0]!.name);

    const served = await runEnvoyWith(good.stdout, serverPort);
    try {
      await waitFor(
        async () => {
          if (served.exited()) throw new Error(`Envoy exited:\n${served.log()}`);
          const answer = await request(served.listener, { path: "/hello" }).catch(() => undefined);
          return answer?.status === 200;
        },
        60_000,
        "Envoy to serve through the fetched plugin",
      );
      const answer = await request(served.listener, { path: "/hello" });
      expect(answer.body).toBe("backend ok");
      expect(answer.headers["x-envoywasm"], served.log()).toBe(`hello from ${NAME}`);
      expect(fetched).toBeGreaterThan(0);
    } finally {
      await served.stop();
    }

    const wrongSha = "0".repeat(64);
    const bad = await runCli(["export", "envoy", "--url", url, "--sha256", wrongSha], { cwd: project });
    expect(bad.exitCode, bad.stderr).toBe(0);
    expect(bad.stderr).toContain("is not the sha256 of the module built now");
    const refused = await runEnvoyWith(bad.stdout, serverPort);
    try {
      await waitFor(() => refused.exited() || /Plugin \S+ failed to load/.test(refused.log()), 90_000, "Envoy to give up on the module with the wrong sha256");
      const log = refused.log();
      // Envoy fetched the module, found the sha256 wrong, and did not load it.
      expect(log, "Envoy should reject the module whose sha256 does not match").toMatch(/fetch remote data \[uri = [^\]]+\]: data is invalid/);
      expect(log).toMatch(/Plugin \S+ failed to load/);
      if (!refused.exited()) {
        const answer = await request(refused.listener, { path: "/hello" });
        expect(answer.status).toBe(503);
        expect(answer.headers["x-envoywasm"]).toBeUndefined();
      }
    } finally {
      await refused.stop();
    }
  });
});

/** A real Envoy with the exported filter and cluster in a config of the test's own: a listener routing to the test's HTTP server. */
async function runEnvoyWith(exportedYaml: string, backendPort: number): Promise<{ listener: number; log(): string; exited(): boolean; stop(): Promise<void> }> {
  const part = parse(exportedYaml) as { http_filters: unknown[]; clusters: unknown[] };
  const [listener, admin] = (await freePorts(2)) as [number, number];
  const config = {
    static_resources: {
      listeners: [
        {
          name: "main",
          address: { socket_address: { address: "127.0.0.1", port_value: listener } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "ship",
                    route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "backend" } }] }] },
                    http_filters: [
                      ...part.http_filters,
                      { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        ...part.clusters,
        {
          name: "backend",
          type: "STATIC",
          connect_timeout: "1s",
          load_assignment: {
            cluster_name: "backend",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: backendPort } } } }] }],
          },
        },
      ],
    },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: admin } } },
  };
  const dir = await tempDir("envoywasm-envoy-");
  const file = path.join(dir, "envoy.yaml");
  await writeFile(file, stringify(config));
  const child = spawn(ENVOY, ["-c", file, "--use-dynamic-base-id", "--concurrency", "1", "-l", "info", "--component-log-level", "config:debug"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (c: Buffer) => (log += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (log += c.toString()));
  const stop = () => stopProcess(child);
  cleanups.push(stop);
  return { listener, log: () => log, exited: () => child.exitCode !== null || child.signalCode !== null, stop };
}
