import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { UsageError, UserError } from "../errors.js";
import { cacheHome } from "./cache.js";
import { run } from "./exec.js";
import { PACKAGE_ROOT } from "./package-root.js";

/**
 * The Docker engine, through dockerode: found the usual way (DOCKER_HOST,
 * else the default socket, else Docker Desktop's per-user socket), asked
 * once whether it answers, and the images envoywasm runs.
 */

export const LABEL_PROJECT = "envoywasm.project";
export const LABEL_SERVICE = "envoywasm.service";
export const LABEL_RUN = "envoywasm.run";

/** Where containers see the project, and envoywasm's own files. */
export const CONTAINER_PROJECT = "/project";
export const CONTAINER_TOOLS = "/envoywasm";

export type PullPolicy = "missing" | "always" | "never";

function socketPath(): string | undefined {
  if (process.env.DOCKER_HOST !== undefined && process.env.DOCKER_HOST !== "") return undefined;
  const candidates = ["/var/run/docker.sock", path.join(os.homedir(), ".docker", "run", "docker.sock")];
  return candidates.find((c) => existsSync(c)) ?? candidates[0];
}

export function engineAddress(): string {
  return process.env.DOCKER_HOST !== undefined && process.env.DOCKER_HOST !== "" ? process.env.DOCKER_HOST : `unix://${socketPath()}`;
}

let connected: Promise<Docker> | undefined;

/** A dockerode client whose engine answered a ping; a clear error otherwise. */
export function connectDocker(): Promise<Docker> {
  connected ??= (async () => {
    const { default: DockerClient } = await import("dockerode");
    const socket = socketPath();
    const docker = socket === undefined ? new DockerClient() : new DockerClient({ socketPath: socket });
    try {
      await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error("no answer within 5 s")), 5000).unref())]);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new UserError(`cannot reach the Docker engine at ${engineAddress()} (${reason})`, {
        hint: "start Docker (Docker Desktop; or on Linux `sudo systemctl start docker`), or point DOCKER_HOST at a running engine; `envoywasm doctor` checks",
      });
    }
    return docker;
  })();
  connected.catch(() => (connected = undefined));
  return connected;
}

/** The official Envoy image for a version: envoyproxy/envoy:v1.40.0, or v1.40-latest for a minor. */
export function officialImage(version: string): string {
  return /^\d+\.\d+$/.test(version) ? `envoyproxy/envoy:v${version}-latest` : `envoyproxy/envoy:v${version}`;
}

/** Makes sure the image is there, pulling it per the policy; progress goes to onProgress. */
export async function ensureImage(docker: Docker, image: string, policy: PullPolicy, onProgress?: (text: string) => void): Promise<void> {
  const present = await docker
    .getImage(image)
    .inspect()
    .then(() => true)
    .catch((error: { statusCode?: number }) => {
      if (error.statusCode === 404) return false;
      throw error;
    });
  if (present && policy !== "always") return;
  if (!present && policy === "never") {
    throw new UserError(`the image ${image} is not on this machine, and --pull never forbids pulling it`, {
      hint: `pull it (\`docker pull ${image}\`), use --pull missing, or name a local image with --envoy-image`,
    });
  }
  onProgress?.(`pulling ${image}`);
  await new Promise<void>((resolve, reject) => {
    docker.pull(image, (error: Error | null, stream: NodeJS.ReadableStream) => {
      if (error !== null) {
        reject(pullError(image, error));
        return;
      }
      const layers = new Map<string, { current: number; total: number; done: boolean }>();
      docker.modem.followProgress(
        stream,
        (finished: Error | null) => (finished === null ? resolve() : reject(pullError(image, finished))),
        (event: { id?: string; status?: string; progressDetail?: { current?: number; total?: number } }) => {
          if (event.id === undefined) return;
          const layer = layers.get(event.id) ?? { current: 0, total: 0, done: false };
          if (event.progressDetail?.total !== undefined) layer.total = event.progressDetail.total;
          if (event.progressDetail?.current !== undefined) layer.current = event.progressDetail.current;
          if (/complete|already exists/i.test(event.status ?? "")) layer.done = true;
          layers.set(event.id, layer);
          const all = [...layers.values()];
          const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
          onProgress?.(
            `pulling ${image}: ${all.filter((l) => l.done).length}/${all.length} layers, ${mb(all.reduce((s, l) => s + l.current, 0))} of ${mb(all.reduce((s, l) => s + l.total, 0))} MB`,
          );
        },
      );
    });
  });
}

function pullError(image: string, error: Error): UserError {
  return new UserError(`could not pull ${image}: ${error.message.split("\n")[0]}`, {
    hint: "check the image name and your network (or `docker login`); a local image works with --pull never",
  });
}

/** Runs a short-lived container and returns its exit code and output (stdout and stderr together). */
export async function runOnce(
  docker: Docker,
  image: string,
  cmd: string[],
  options: { binds?: string[]; workingDir?: string; user?: string } = {},
): Promise<{ code: number; output: string }> {
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: [cmd[0]!],
    Cmd: cmd.slice(1),
    Labels: { [LABEL_SERVICE]: "probe" },
    WorkingDir: options.workingDir,
    User: options.user,
    HostConfig: { Binds: options.binds ?? [], NetworkMode: "none", SecurityOpt: ["no-new-privileges"] },
  });
  try {
    const waited = container.wait({ condition: "next-exit" });
    await container.start();
    const { StatusCode } = (await waited) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    return { code: StatusCode, output: demuxBuffer(logs) };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

/** The text of a non-TTY container's multiplexed log (8-byte frame headers). */
export function demuxBuffer(buffer: Buffer): string {
  let out = "";
  let i = 0;
  while (i + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(i + 4);
    out += buffer.subarray(i + 8, i + 8 + size).toString("utf8");
    i += 8 + size;
  }
  return i === 0 && buffer.length > 0 ? buffer.toString("utf8") : out;
}

/** Splits a container's multiplexed log stream into stdout and stderr streams. */
export function demuxStream(docker: Docker, stream: NodeJS.ReadableStream): { stdout: PassThrough; stderr: PassThrough } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  docker.modem.demuxStream(stream, stdout, stderr);
  stream.on("end", () => {
    stdout.end();
    stderr.end();
  });
  stream.on("error", () => {
    stdout.end();
    stderr.end();
  });
  return { stdout, stderr };
}

/** Go's name for the architecture containers run on here. */
export function goArch(): string {
  return ({ x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[process.arch] ?? process.arch;
}

const PAUSE_SOURCE = path.join(PACKAGE_ROOT, "assets", "pause");

/**
 * A tiny static Linux program that holds a run's shared network namespace
 * (what a pod's pause container does), built with the Go already needed for
 * plugins and kept in envoywasm's cache per Go version.
 */
export async function pauseBinary(goVersion: string): Promise<string> {
  const source = await readFile(path.join(PAUSE_SOURCE, "main.go"));
  const key = createHash("sha256").update(goVersion).update(source).update(goArch()).digest("hex").slice(0, 12);
  const bin = path.join(cacheHome(), "docker", `pause-${key}`);
  if (existsSync(bin)) return bin;
  await mkdir(path.dirname(bin), { recursive: true });
  const temp = `${bin}.${process.pid}.tmp`;
  const r = await run("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", temp, "."], {
    cwd: PAUSE_SOURCE,
    env: { CGO_ENABLED: "0", GOOS: "linux", GOARCH: goArch(), GOFLAGS: "-mod=mod" },
  });
  if (r.exitCode !== 0) throw new UserError(`could not build envoywasm's pause program with go: ${r.all.trim().split("\n").slice(-3).join(" ")}`);
  await chmod(temp, 0o755);
  await rename(temp, bin);
  return bin;
}

/** Checks a pull policy given on the command line. */
export function parsePullPolicy(value: string): PullPolicy {
  if (value === "missing" || value === "always" || value === "never") return value;
  throw new UsageError(`--pull ${JSON.stringify(value)}: use missing, always or never`);
}
