// A small bounded keep-alive load: a few loops, each one connection, one
// request at a time, counting what did not come back 200.
import http from "node:http";
import { get } from "./net.mjs";
import { sleep } from "./proc.mjs";

export function startLoad(port, path, { loops = 4, maxMs = 60_000, onResponse = () => {} } = {}) {
  let stopping = false;
  const counts = { total: 0, ok: 0, failed: 0, non200: 0 };
  const agents = Array.from({ length: loops }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const run = async (agent) => {
    while (!stopping) {
      const r = await get(port, path, { agent, timeoutMs: 10_000 });
      const at = performance.now();
      counts.total++;
      if (r === undefined) {
        counts.failed++;
        await sleep(10);
      } else if (r.status !== 200) counts.non200++;
      else counts.ok++;
      if (r !== undefined) onResponse(r, at);
    }
  };
  const running = agents.map(run);
  const limit = setTimeout(() => (stopping = true), maxMs);
  return {
    counts,
    async stop() {
      stopping = true;
      clearTimeout(limit);
      await Promise.all(running);
      for (const a of agents) a.destroy();
      return counts;
    },
  };
}
