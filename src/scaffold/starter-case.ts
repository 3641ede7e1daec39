import { stringify } from "yaml";
import { get, parseBootstrap, pluginListener } from "../envoy/bootstrap.js";
import { speaksHttp2 } from "../envoy/adoption.js";

const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string | undefined => (typeof x === "string" && x !== "" ? x : undefined);

/**
 * An adopted project's first e2e case (e2e/starter.yaml), so `envoywasm test`
 * has one out of the box: a GET of the first route of the plugin's listener
 * in envoy.yaml that must pass the plugin without a panic. It asserts no
 * status: an adopted plugin may answer itself (a challenge, a denial), so the
 * upstream's status (the generated backend's 200, a direct_response's) is
 * only suggested in a comment. A network filter's listener whose tcp_proxy goes to
 * the backend gets a GET / through it (the backend speaks HTTP). Undefined when
 * envoy.yaml names no route there (e.g. routes from RDS). For a plugin that makes
 * no stream context (`makesStreams` false), a file without a case: a request through
 * its filter makes it panic in any Envoy, while `envoywasm test` still starts it.
 */
export function starterCase(envoyYaml: string, display: string, backendCluster: string | undefined, makesStreams = true): string | undefined {
  const bootstrap = parseBootstrap(envoyYaml, display, display);
  const listener = pluginListener(bootstrap);
  if (listener === undefined) return undefined;
  if (!makesStreams) return NO_REQUEST;
  // static_resources.listeners[i] (a listener may have no name)
  const entry = get(bootstrap.data, listener.addressPath.slice(0, 3));
  const filters = list(get(entry, ["filter_chains"])).flatMap((chain) => list(get(chain, ["filters"])));
  const tcpToBackend =
    backendCluster !== undefined &&
    filters.some(
      (f) =>
        get(f, ["typed_config", "cluster"]) === backendCluster && /tcp_proxy/.test(`${String(get(f, ["name"]))} ${String(get(f, ["typed_config", "@type"]))}`),
    );
  const route = filters
    .map((f) => list(get(f, ["typed_config", "route_config", "virtual_hosts"]))[0])
    .map((host) => list(get(host, ["routes"]))[0])
    .find((r) => r !== undefined);
  if (route === undefined && tcpToBackend) return tcpCase(listener.name);
  if (route === undefined) return undefined;
  const path = str(get(route, ["match", "path"])) ?? str(get(route, ["match", "prefix"])) ?? str(get(route, ["match", "path_separated_prefix"])) ?? "/";
  if (!path.startsWith("/") || /\s/.test(path)) return undefined;
  const direct = get(route, ["direct_response", "status"]);
  const toBackend = backendCluster !== undefined && get(route, ["route", "cluster"]) === backendCluster;
  // The backend answers HTTP/1.1 only: a cluster that speaks HTTP/2 (gRPC) to it gets no answer to suggest.
  const upstream = toBackend ? (speaksHttp2(bootstrap.data, backendCluster) ? undefined : 200) : typeof direct === "number" ? direct : undefined;
  const whereTo = toBackend ? "the backend" : typeof direct === "number" ? "its direct response" : `cluster ${String(get(route, ["route", "cluster"]))}`;
  const header = [
    "# A first case for `envoywasm test`, written by `envoywasm init --from` from the",
    `# first route of listener ${listener.name} in envoy.yaml: the request must pass the plugin`,
    "# without a panic. Add a case for each thing the plugin does: the request, and the",
    "# status, headers, body or plugin log lines that must come back (docs/e2e.md).",
    upstream === undefined
      ? "# Once you know what comes back here, say it: status: <code>."
      : `# ${toBackend ? "The backend" : "Its direct response"} answers ${upstream}: once you know the plugin lets this request through, add status: ${upstream}.`,
  ];
  return `${header.join("\n")}\n${stringify({ cases: [{ name: `GET ${path} through the plugin to ${whereTo}`, request: { path }, expect: { noLogs: ["/panic/"] } }] }, { lineWidth: 0 })}`;
}

const NO_REQUEST = `# A first file for \`envoywasm test\`, written by \`envoywasm init --from\`. The plugin
# makes no HTTP or TCP context (it works from its plugin context: ticks, calls), so a
# request through its filter would make it panic, in any Envoy: no case sends one, and
# \`envoywasm up\` suggests none. \`envoywasm test\` still starts Envoy with the plugin, and
# fails if it does not start. Add cases once it handles requests (docs/e2e.md).
cases: []
`;

function tcpCase(listener: string): string {
  const header = [
    "# A first case for `envoywasm test`, written by `envoywasm init --from`: listener",
    `# ${listener} in envoy.yaml runs the plugin on the connection, then a tcp_proxy to the`,
    "# backend, which speaks HTTP; the request must pass the plugin without a panic. Add a",
    "# case for each thing the plugin does (docs/e2e.md). The backend answers 200 at /:",
    "# once you know the plugin lets this connection through, add status: 200.",
  ];
  const cases = [{ name: "GET / through the plugin and the tcp_proxy to the backend", request: { path: "/" }, expect: { noLogs: ["/panic/"] } }];
  return `${header.join("\n")}\n${stringify({ cases }, { lineWidth: 0 })}`;
}
