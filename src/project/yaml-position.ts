import { isMap, isScalar, type Document, type Node as YamlNode } from "yaml";

/** A place in a YAML document, as a schema problem names it: keys and list indexes. */
export type YamlPath = readonly (string | number)[];

/**
 * The offset in the text of the value at `p` (with `atKey`, of its key), or
 * of the nearest parent that is there: a problem is told on the line where
 * the user wrote the thing, or would write it.
 */
export function offsetOf(doc: Document, p: YamlPath, atKey: boolean): number | undefined {
  for (let depth = atKey ? p.length - 1 : p.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(p.slice(0, depth), true);
    if (depth < p.length && isMap(node)) {
      // The key itself may exist with an odd value, or not at all.
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === p[depth]);
      const keyNode = pair?.key as YamlNode | undefined;
      if (keyNode?.range) return keyNode.range[0];
    }
    const range = (node as YamlNode | undefined)?.range;
    if (range) return range[0];
  }
  return undefined;
}
