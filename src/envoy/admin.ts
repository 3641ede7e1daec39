import http from "node:http";

/** Talking to Envoy's admin interface (always on loopback). */

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

/** Envoy's /ready answer: LIVE, PRE_INITIALIZING, INITIALIZING, DRAINING, … or undefined. */
export function envoyState(adminPort: number, timeoutMs = 1000): Promise<string | undefined> {
  return httpGet(`http://127.0.0.1:${adminPort}/ready`, timeoutMs).then((r) => r?.body.trim());
}

/** Stats whose names match the regex, as name → value (text readouts unquoted). */
export async function stats(adminPort: number, filter: string, timeoutMs = 5000): Promise<Map<string, string> | undefined> {
  const r = await httpGet(`http://127.0.0.1:${adminPort}/stats?filter=${encodeURIComponent(filter)}`, timeoutMs);
  if (r === undefined || r.status !== 200) return undefined;
  const out = new Map<string, string>();
  for (const line of r.body.split("\n")) {
    const colon = line.indexOf(": ");
    if (colon < 0) continue;
    out.set(
      line.slice(0, colon),
      line
        .slice(colon + 2)
        .trim()
        .replace(/^"(.*)"$/, "$1"),
    );
  }
  return out;
}

export interface EcdsStatus {
  /** The version Envoy serves (changes only when an update is applied). */
  version: string;
  rejected: number;
  failed: number;
  succeeded: number;
}

/**
 * Where each ECDS-loaded filter stands. `version_text` is what serves;
 * `update_rejected` counts updates Envoy refused (the previous config keeps
 * serving), `update_failure` files it could not read.
 */
export async function ecdsStatus(adminPort: number, names: readonly string[], timeoutMs = 5000): Promise<Map<string, EcdsStatus> | undefined> {
  const all = await stats(adminPort, "^extension_config_discovery\\.", timeoutMs);
  if (all === undefined) return undefined;
  const out = new Map<string, EcdsStatus>();
  for (const name of names) {
    const p = `extension_config_discovery.http_filter.${name}.`;
    out.set(name, {
      version: all.get(`${p}version_text`) ?? "",
      rejected: Number(all.get(`${p}update_rejected`) ?? 0),
      failed: Number(all.get(`${p}update_failure`) ?? 0),
      succeeded: Number(all.get(`${p}update_success`) ?? 0),
    });
  }
  return out;
}

/** Resident memory and Wasm VM counts, for status and bench. */
export async function memoryStats(adminPort: number): Promise<{ allocated?: number; heap?: number; wasmVms?: number } | undefined> {
  const m = await httpGet(`http://127.0.0.1:${adminPort}/memory`, 3000);
  const s = await stats(adminPort, "^wasm\\.(envoy\\.wasm\\.runtime\\.\\w+\\.active|wasm_vm_count)$|^server\\.memory_", 3000);
  if (m === undefined && s === undefined) return undefined;
  let allocated: number | undefined;
  let heap: number | undefined;
  try {
    const json = JSON.parse(m?.body ?? "{}") as { allocated?: string; heap_size?: string };
    if (json.allocated !== undefined) allocated = Number(json.allocated);
    if (json.heap_size !== undefined) heap = Number(json.heap_size);
  } catch {
    // not JSON
  }
  const vms = [...(s?.entries() ?? [])].find(([k]) => /runtime\.\w+\.active$|wasm_vm_count$/.test(k))?.[1];
  return { allocated, heap, wasmVms: vms === undefined ? undefined : Number(vms) };
}
