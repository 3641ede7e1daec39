// Loopback only: ports come from the OS (port 0), requests go to 127.0.0.1.
import http from "node:http";
import net from "node:net";
import { MeasureError, sleep } from "./proc.mjs";

/** n distinct ports that nothing listens on now (all held at once while picked, so they differ). */
export async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port: 0, host: "127.0.0.1" }, resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** One GET to 127.0.0.1; resolves { status, headers } or undefined when nothing answers. */
export function get(port, path, { headers = {}, agent = false, timeoutMs = 2000 } = {}) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers, agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers }));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/**
 * Polls GET until it answers 200, every few milliseconds; resolves the time
 * (performance.now()) of that answer. `alive()` false ends the wait early.
 */
export async function waitFor200(port, path, { headers, timeoutMs = 60_000, alive = () => true, what = `127.0.0.1:${port}${path}` } = {}) {
  const deadline = performance.now() + timeoutMs;
  let last = "no answer";
  for (;;) {
    const r = await get(port, path, { headers, timeoutMs: 2000 });
    if (r?.status === 200) return performance.now();
    if (r !== undefined) last = `status ${r.status}`;
    if (!alive()) throw new MeasureError(`${what}: what should answer exited (last: ${last})`);
    if (performance.now() > deadline) throw new MeasureError(`${what} did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
    await sleep(5);
  }
}

export function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1" }, () => server.close(() => resolve(true)));
  });
}

/** Waits until every port can be bound again (the previous run let go of it). */
export async function waitPortsFree(ports, timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs;
  for (const port of ports) {
    while (!(await portFree(port))) {
      if (performance.now() > deadline) throw new MeasureError(`port ${port} is still taken ${timeoutMs / 1000} s after the run stopped`);
      await sleep(20);
    }
  }
}
