import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import type Docker from "dockerode";
import { connectDocker, CONTAINER_TOOLS, demuxStream, engineAddress, LABEL_PROJECT, LABEL_RUN, LABEL_SERVICE } from "../../platform/docker.js";
import { formatCommand } from "../../platform/exec.js";
import { ui } from "../../ui/output.js";
import { LineSplitter } from "../logs/lines.js";
import type { RunPlan, RuntimePlan, ServicePlan } from "../plan.js";
import type { ExitInfo, Runtime, Service, ServiceRecord } from "./service.js";
import { ServiceOutput } from "./output.js";

type DockerPlan = Extract<RuntimePlan, { kind: "docker" }>;

/**
 * Runs a plan's services as containers, the way testcontainers does: every
 * container labelled (project, service, run), found again by those labels,
 * stopped and removed. The services share one network namespace, held by a
 * small "net" container that publishes every port on the host's loopback,
 * so envoy.yaml's loopback clusters stay right, as in a pod.
 */
export class DockerRuntime implements Runtime {
  readonly kind = "docker" as const;
  private docker!: Docker;
  private net: Docker.Container | undefined;
  private readonly ids: string[] = [];
  /** The engine's event stream of this run's kills: who stopped a container, and whether the engine is still there. */
  private events: NodeJS.ReadableStream | undefined;
  private eventsEnded = false;
  /** Containers envoywasm is stopping itself; a kill of any other came from outside. */
  private readonly stopping = new Set<string>();
  private readonly killedOutside = new Set<string>();

  constructor(
    private readonly plan: RunPlan,
    private readonly runtime: DockerPlan,
  ) {}

  /** What the containers are labelled and named after: the project, or a run of its own beside `up`'s (a test run). */
  private get scope(): string {
    return this.runtime.scope ?? this.plan.root;
  }

  private labels(service: string): Record<string, string> {
    return { [LABEL_PROJECT]: this.scope, [LABEL_SERVICE]: service, [LABEL_RUN]: this.plan.runId };
  }

  name(service: string): string {
    return containerName(this.scope, this.plan.name, service);
  }

  async setUp(): Promise<void> {
    this.docker = await connectDocker();
    await removeProjectContainers(this.scope, this.docker);
    await this.followKills();
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const port of this.runtime.publish) {
      exposed[`${port}/tcp`] = {};
      bindings[`${port}/tcp`] = [{ HostIp: this.runtime.publishAddress, HostPort: String(port) }];
    }
    const pause = `${CONTAINER_TOOLS}/pause`;
    ui.debug(`docker: net container ${this.name("net")} publishing ${this.runtime.publish.map((p) => `${this.runtime.publishAddress}:${p}`).join(", ")}`);
    this.net = await this.docker.createContainer({
      name: this.name("net"),
      Image: this.runtime.image,
      Entrypoint: [pause],
      Cmd: [],
      User: this.runtime.user,
      Labels: this.labels("net"),
      ExposedPorts: exposed,
      HostConfig: {
        ...this.confinement(),
        PortBindings: bindings,
        Binds: [`${this.runtime.pauseBinary}:${pause}:ro`],
      },
    });
    this.ids.push(this.net.id);
    await this.net.start();
  }

  /** As the user who ran envoywasm, with no capabilities: it reads the project as that user can natively, and no more. */
  private confinement() {
    const groups = this.runtime.groups ?? [];
    return { SecurityOpt: ["no-new-privileges"], CapDrop: ["ALL"], ...(groups.length === 0 ? {} : { GroupAdd: groups.map(String) }) };
  }

  service(spec: ServicePlan, onLine: (service: string, line: string) => void): Service {
    return new DockerService(this, spec, onLine);
  }

  /** Creates and starts a service's container in the shared network namespace. */
  async createService(spec: ServicePlan): Promise<Docker.Container> {
    const binds = this.runtime.mounts.map((m) => `${m.host}:${m.container}${m.readOnly ? ":ro" : ""}`);
    ui.debug(
      `$ docker run --network container:${this.name("net")} ${binds.map((b) => `-v ${b}`).join(" ")} -w ${spec.cwd} ${this.runtime.image} ${formatCommand(spec.file, spec.args, spec.env)}`,
    );
    const container = await this.docker.createContainer({
      name: this.name(spec.name),
      Image: this.runtime.image,
      Entrypoint: [spec.file],
      Cmd: spec.args,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: spec.cwd,
      User: this.runtime.user,
      Labels: this.labels(spec.name),
      Tty: false,
      HostConfig: {
        ...this.confinement(),
        NetworkMode: `container:${this.net!.id}`,
        Binds: binds,
      },
    });
    this.ids.push(container.id);
    return container;
  }

  get client(): Docker {
    return this.docker;
  }

  async tearDown(): Promise<void> {
    (this.events as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined)?.destroy?.();
    if (this.net === undefined) return;
    await this.net.stop({ t: 2 }).catch(() => {});
    await this.net.remove({ force: true }).catch(() => {});
  }

  private async followKills(): Promise<void> {
    const events = await this.docker.getEvents({ filters: { type: ["container"], event: ["kill"], label: [`${LABEL_RUN}=${this.plan.runId}`] } });
    this.events = events;
    const splitter = new LineSplitter((line) => {
      try {
        const id = (JSON.parse(line) as { id?: string }).id;
        if (id !== undefined && !this.stopping.has(id)) this.killedOutside.add(id);
      } catch {
        // Not an event: ignore.
      }
    });
    events.on("data", (chunk: Buffer | string) => splitter.push(chunk.toString()));
    const ended = () => (this.eventsEnded = true);
    events.on("end", ended);
    events.on("close", ended);
    events.on("error", ended);
  }

  /** Marks a container as stopped by envoywasm (its kill event is no news). */
  stoppingContainer(id: string): void {
    this.stopping.add(id);
  }

  /** Whether a container was stopped or killed by someone else (docker stop/kill, or a stopping engine). */
  killedFromOutside(id: string): boolean {
    return this.killedOutside.has(id);
  }

  /** A stopping engine stops its containers before it goes: after a kill from outside, give it 3 s to go before calling it a `docker stop`. */
  async lostEngine(): Promise<string | undefined> {
    const deadline = Date.now() + (this.killedOutside.size > 0 ? 3000 : 0);
    for (;;) {
      if (this.eventsEnded || !(await this.answers())) return engineAddress();
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private answers(): Promise<boolean> {
    return Promise.race([
      this.docker.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref()),
    ]);
  }

  killNow(): void {
    // An exit hook cannot wait for the API: the docker CLI, if there is one; else the next command sweeps by label.
    if (this.ids.length > 0) spawnSync("docker", ["rm", "-f", ...this.ids], { stdio: "ignore", timeout: 10_000 });
  }
}

class DockerService implements Service {
  readonly name: string;
  readonly exited: Promise<ExitInfo>;
  private container: Docker.Container | undefined;
  private readonly output: ServiceOutput;

  constructor(
    private readonly runtime: DockerRuntime,
    private readonly spec: ServicePlan,
    onLine: (service: string, line: string) => void,
  ) {
    this.name = spec.name;
    this.output = new ServiceOutput(spec.name, onLine);
    this.exited = this.output.exited;
  }

  get done(): boolean {
    return this.output.done;
  }

  recentLines(): string[] {
    return this.output.recentLines();
  }

  stoppedFromOutside(): boolean {
    return this.container !== undefined && this.runtime.killedFromOutside(this.container.id);
  }

  record(): ServiceRecord {
    const container = this.container === undefined ? undefined : { id: this.container.id, name: this.runtime.name(this.name) };
    return { name: this.name, ports: this.spec.ports, container };
  }

  async start(): Promise<void> {
    const container = await this.runtime.createService(this.spec);
    this.container = container;
    // Listen for the exit before starting: a program may end at once.
    const waited = container.wait({ condition: "next-exit" }) as Promise<{ StatusCode: number }>;
    await container.start();
    const stream = (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream;
    const { stdout, stderr } = demuxStream(this.runtime.client, stream);
    this.output.follow(stdout);
    this.output.follow(stderr);
    void waited
      .then((r) => r.StatusCode)
      .catch(() => 137)
      .then((status) => this.output.programEnded(exitInfo(status)));
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.container === undefined) return { code: null, signal: null };
    this.runtime.stoppingContainer(this.container.id);
    if (!this.output.done) await this.container.stop({ t: Math.max(1, Math.ceil(graceMs / 1000)) }).catch(() => {});
    const info = await Promise.race([this.exited, new Promise<ExitInfo>((r) => setTimeout(() => r({ code: null, signal: "SIGKILL" }), graceMs + 5000))]);
    await this.container.remove({ force: true }).catch(() => {});
    return info;
  }

  killNow(): void {
    if (this.container !== undefined) spawnSync("docker", ["rm", "-f", this.container.id], { stdio: "ignore", timeout: 10_000 });
  }
}

/** 128+n from a container is a death by signal n (docker stop's SIGKILL is 137). */
function exitInfo(status: number): ExitInfo {
  const signals: Record<number, NodeJS.Signals> = { 137: "SIGKILL", 143: "SIGTERM", 130: "SIGINT", 139: "SIGSEGV", 134: "SIGABRT" };
  const signal = signals[status];
  return signal === undefined ? { code: status, signal: null } : { code: null, signal };
}

/** envoywasm-<project>-<hash of its path>-<service>: unique per project folder, readable in `docker ps`. */
export function containerName(root: string, name: string, service: string): string {
  const hash = createHash("sha256").update(path.resolve(root)).digest("hex").slice(0, 6);
  return `envoywasm-${name}-${hash}-${service}`;
}

/** Removes every container labelled with this project (a crashed run's leftovers); returns what it removed. */
export async function removeProjectContainers(root: string, client?: Docker): Promise<string[]> {
  const docker = client ?? (await connectDocker());
  const found = await docker.listContainers({ all: true, filters: { label: [`${LABEL_PROJECT}=${root}`] } });
  const removed: string[] = [];
  for (const c of found) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
    removed.push(`container ${c.Names[0]?.replace(/^\//, "") ?? c.Id.slice(0, 12)}`);
  }
  return removed;
}

/** This project's containers, for status. */
export async function projectContainers(root: string): Promise<{ id: string; name: string; service: string; state: string; status: string }[]> {
  const docker = await connectDocker();
  const found = await docker.listContainers({ all: true, filters: { label: [`${LABEL_PROJECT}=${root}`] } });
  return found.map((c) => ({
    id: c.Id,
    name: c.Names[0]?.replace(/^\//, "") ?? c.Id.slice(0, 12),
    service: c.Labels[LABEL_SERVICE] ?? "?",
    state: c.State,
    status: c.Status,
  }));
}
