import { readFile, stat } from "node:fs/promises";
import { parseDocument } from "yaml";
import { writeFileAtomic } from "../../platform/files.js";

/**
 * When a case's request is over for the plugin: Envoy writes an access line
 * once the filter chain is done with the stream, so every line the plugin
 * logged for it came before. The test run's config adds that line on
 * stderr, where the plugin's lines go (one pipe: it cannot overtake them),
 * naming the request by the x-request-id it was sent with (kept by Envoy
 * also where envoy.yaml makes it an edge proxy, which replaces a caller's id).
 */

const HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const DONE_LINE = /^envoywasm-e2e done (\S+)$/;
/** A tcp_proxy's access line, at the end of a connection: it carries no request id, and cases run one connection at a time. */
const CLOSED_LINE = "envoywasm-e2e connection closed";
/** Envoy buffers access lines for a second by default: written within 10 ms instead. */
export const FLUSH_ARGS = ["--file-flush-interval-msec", "10"];
/**
 * If the line never comes (a request id extension that rewrites ids): how
 * long to wait for it. It comes within milliseconds; a starved machine (CI)
 * may hold it back for seconds.
 */
export const DONE_TIMEOUT_MS = 10_000;

/** Adds the access line to every HTTP connection manager and tcp_proxy of the config Envoy runs (the derived file: its lines are not the user's, its proto paths stay). */
export async function addDoneLines(derivedFile: string): Promise<void> {
  const doc = parseDocument(await readFile(derivedFile, "utf8"));
  const data = doc.toJS() as { static_resources?: { listeners?: Listener[] } };
  const logger = (line: string) => ({
    name: "envoywasm.e2e.done",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
      log_format: { text_format_source: { inline_string: `${line}\n` } },
    },
  });
  (data.static_resources?.listeners ?? []).forEach((listener, i) => {
    const chains: [(string | number)[], Chain | undefined][] = (listener.filter_chains ?? []).map((c, j) => [["filter_chains", j], c]);
    chains.push([["default_filter_chain"], listener.default_filter_chain]);
    for (const [at, chain] of chains) {
      (chain?.filters ?? []).forEach((f, k) => {
        const type = f.typed_config?.["@type"];
        if (type !== HCM_TYPE && type !== TCP_PROXY_TYPE) return;
        const config = ["static_resources", "listeners", i, ...at, "filters", k, "typed_config"];
        const line = type === HCM_TYPE ? "envoywasm-e2e done %REQ(X-REQUEST-ID)%" : CLOSED_LINE;
        doc.setIn([...config, "access_log"], doc.createNode([...(f.typed_config?.access_log ?? []), logger(line)]));
        if (type === HCM_TYPE) doc.setIn([...config, "preserve_external_request_id"], true);
      });
    }
  });
  await writeFileAtomic(derivedFile, doc.toString({ lineWidth: 0 }), (await stat(derivedFile)).mode & 0o777);
}

type Chain = { filters?: { typed_config?: { "@type"?: string; access_log?: unknown[] } }[] };
type Listener = { filter_chains?: Chain[]; default_filter_chain?: Chain };

/** The requests in flight by id, each resolved when its access line is seen (true) or after DONE_TIMEOUT_MS (false). */
export class Completions {
  private readonly waiting = new Map<string, (seen: boolean) => void>();

  /** Told every line of Envoy's output; true for an access line of ours (not the plugin's, not Envoy's own). */
  line(text: string): boolean {
    // A closed connection ends the request in flight, whatever its id (a case through a tcp_proxy).
    if (text === CLOSED_LINE) for (const finish of [...this.waiting.values()]) finish(true);
    const id = DONE_LINE.exec(text)?.[1];
    if (id !== undefined) this.waiting.get(id)?.(true);
    return id !== undefined || text === CLOSED_LINE;
  }

  /** Call before sending the request: its line may come before the answer is read. */
  wait(id: string): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const finish = (seen: boolean) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(seen);
      };
      const timer = setTimeout(() => finish(false), DONE_TIMEOUT_MS);
      this.waiting.set(id, finish);
    });
  }
}
