import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { pack } from "tar-stream";

/**
 * No image can be pulled here, so the Docker tests run a local Envoy image
 * made from the run's own Envoy binary: a root filesystem holding the binary,
 * the libraries `ldd` lists and an `envoy` user (uid 101, as in the official
 * image), imported with `docker import`. It takes about a second.
 */
export async function buildEnvoyImage(envoyBinary: string, tag: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const binary = realpathSync(envoyBinary);
  const libraries = execFileSync("ldd", [binary], { encoding: "utf8" })
    .split("\n")
    .map((line) => /(\/\S+)/.exec(line)?.[1])
    .filter((lib): lib is string => lib !== undefined);
  const files: { name: string; data: Buffer; mode: number }[] = [
    { name: "/usr/local/bin/envoy", data: readFileSync(binary), mode: 0o755 },
    ...libraries.map((lib) => ({ name: lib, data: readFileSync(realpathSync(lib)), mode: statSync(realpathSync(lib)).mode & 0o777 })),
    { name: "/etc/passwd", data: Buffer.from("root:x:0:0:root:/root:/sbin/nologin\nenvoy:x:101:101:envoy:/tmp:/sbin/nologin\n"), mode: 0o644 },
    { name: "/etc/group", data: Buffer.from("root:x:0:\nenvoy:x:101:\n"), mode: 0o644 },
  ];
  // Every parent folder, before what is in it.
  const dirs = new Set<string>();
  for (const f of files) for (let d = path.dirname(f.name); d !== "/"; d = path.dirname(d)) dirs.add(d);
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on("end", () => resolve());
    tar.on("error", reject);
  });
  const header = { uid: 0, gid: 0, mtime: new Date(0) };
  for (const d of [...dirs].sort()) tar.entry({ ...header, name: d.slice(1), type: "directory", mode: 0o755 });
  tar.entry({ ...header, name: "tmp", type: "directory", mode: 0o1777 });
  for (const f of files) tar.entry({ ...header, name: f.name.slice(1), mode: f.mode }, f.data);
  tar.finalize();
  await ended;
  const result = spawnSync(
    "docker",
    ["import", "--change", 'ENTRYPOINT ["/usr/local/bin/envoy"]', "--change", "USER 101:101", "--change", "WORKDIR /tmp", "-", tag],
    { input: Buffer.concat(chunks), encoding: "utf8", maxBuffer: 1 << 20, env },
  );
  if (result.status !== 0) throw new Error(`docker import failed: ${result.stderr.trim()}`);
}

/** Whether a Docker engine answers (through the docker client). */
export function dockerEngineAnswers(): boolean {
  return spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8", timeout: 10_000 }).status === 0;
}

export function removeImage(tag: string): void {
  spawnSync("docker", ["rmi", "-f", tag], { stdio: "ignore", timeout: 30_000 });
}
