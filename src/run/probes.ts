import http from "node:http";
import { canConnect } from "./ports.js";
import type { ServicePlan } from "./plan.js";

/** GET a loopback URL; resolves status and body, or undefined if nothing answers. */
export function httpGet(url: string, timeoutMs = 1000): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

export function envoyState(adminPort: number): Promise<string | undefined> {
  return httpGet(`http://127.0.0.1:${adminPort}/ready`).then((r) => r?.body.trim());
}

export function probeFor(plan: ServicePlan): () => Promise<boolean> {
  const ready = plan.ready;
  if (ready.kind === "tcp") return () => canConnect(ready.port);
  return async () => (await envoyState(ready.port)) === "LIVE";
}
