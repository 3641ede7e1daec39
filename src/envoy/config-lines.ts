import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from "yaml";

/**
 * Where in the user's envoy.yaml something Envoy complains about stands.
 * Envoy names a place in the config it ran (derived from envoy.yaml, which
 * keeps its listeners, filter chains and filters where they were) by a
 * proto path such as `static_resources.listeners[0].filter_chains[0]
 * .filters[0].typed_config.<any>`; the same path leads to the same node in
 * envoy.yaml.
 */
export interface ConfigText {
  /** 1-based line of the key `key` inside the node at `protoPath`, else of the node itself. */
  lineOf(protoPath: string, key?: string): number | undefined;
  /** Like lineOf, for a path that starts inside some nested message (e.g. an HttpConnectionManager's `route_config…`): the first place it leads to. */
  lineOfNested(protoPath: string, key?: string): number | undefined;
  /** 1-based lines of `key: value` pairs anywhere in the file (e.g. every `cluster: backnd`); any key when undefined. */
  linesOfPair(key: string | undefined, value: string | RegExp): number[];
  /** Every value of `key` in the file (e.g. the clusters' names). */
  valuesOf(path: string[]): string[];
}

export function readConfigText(file: string): ConfigText | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) return undefined;
  const lineAt = (offset: number) => counter.linePos(offset).line;
  const pairs: { key: string; value: string; line: number }[] = [];
  const collections: YAMLMap[] = [];
  const walk = (node: unknown) => {
    if (isMap(node)) {
      collections.push(node);
      for (const item of node.items) {
        const k = isScalar(item.key) ? String(item.key.value) : undefined;
        if (k !== undefined && isScalar(item.value) && (item.key as Node).range !== undefined) {
          pairs.push({ key: k, value: String(item.value.value), line: lineAt((item.key as Node).range![0]) });
        }
        walk(item.value);
      }
    } else if (isSeq(node)) for (const item of node.items) walk(item);
  };
  walk(doc.contents);
  const nodeAt = (from: unknown, steps: (string | number)[]): Node | undefined => {
    const node = steps.length === 0 ? from : isMap(from) || isSeq(from) ? from.getIn(steps, true) : undefined;
    return (node as Node | undefined)?.range == null ? undefined : (node as Node);
  };
  /** The line of `key` in `node` (a map), else of the node itself. */
  const lineIn = (node: Node, key: string | undefined): number => {
    const at =
      key === undefined || !isMap(node) ? undefined : (node.items.find((i) => isScalar(i.key) && String(i.key.value) === key)?.key as Node | undefined)?.range;
    return lineAt((at ?? node.range)![0]);
  };
  return {
    lineOf(protoPath, key) {
      const steps = stepsOf(protoPath);
      for (let depth = steps.length; depth >= 0; depth--) {
        const node = nodeAt(doc.contents, steps.slice(0, depth));
        if (node !== undefined) return lineIn(node, depth === steps.length ? key : undefined);
      }
      return undefined;
    },
    lineOfNested(protoPath, key) {
      const steps = stepsOf(protoPath);
      for (const map of collections) {
        const node = nodeAt(map, steps);
        if (node !== undefined) return lineIn(node, key);
      }
      return undefined;
    },
    linesOfPair(key, value) {
      const matches = (v: string) => (typeof value === "string" ? v === value : value.test(v));
      return pairs.filter((p) => (key === undefined || p.key === key) && matches(p.value)).map((p) => p.line);
    },
    valuesOf(path) {
      const list = doc.getIn(path.slice(0, -1), true);
      if (!isSeq(list)) return [];
      return list.items.flatMap((item) => {
        const v = isMap(item) ? item.get(path.at(-1)!) : undefined;
        return typeof v === "string" ? [v] : [];
      });
    },
  };
}

/** `a.b[0].c.<any>` → ["a", "b", 0, "c"]. */
function stepsOf(protoPath: string): (string | number)[] {
  return protoPath
    .split(".")
    .filter((s) => s !== "" && !s.startsWith("<"))
    .flatMap((s) => {
      const m = /^([^[]+)((?:\[\d+\])*)$/.exec(s);
      if (m === null) return [s];
      return [m[1]!, ...[...m[2]!.matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]))];
    });
}
