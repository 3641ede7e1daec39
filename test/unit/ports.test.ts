import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../../src/platform/ports.js";

describe("freePort", () => {
  it("gives distinct ports below the range outgoing connections take theirs from, each one a listener can bind", async () => {
    const floor = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(floor);
    }
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen({ port: ports[0], host: "127.0.0.1", exclusive: true }, resolve));
    await new Promise((r) => server.close(r));
  });
});
