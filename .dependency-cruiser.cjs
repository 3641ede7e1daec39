/**
 * The layers of src/ (docs/architecture.md): a module may import its own
 * layer and the layers below it, never one above, and nothing may import in
 * a circle (type-only imports included). `npm run lint` runs this check.
 *
 *   bin → cli → commands → {scaffold, ship} → run → build → wasm → project → envoy → platform → ui → errors
 */
const layer = (name, below) => ({ name, below });
const LAYERS = [
  layer("cli", ["commands", "scaffold", "ship", "run", "build", "wasm", "project", "envoy", "platform", "ui", "errors"]),
  layer("commands", ["scaffold", "ship", "run", "build", "wasm", "project", "envoy", "platform", "ui", "errors"]),
  layer("scaffold", ["build", "wasm", "project", "envoy", "platform", "ui", "errors"]),
  layer("ship", ["build", "wasm", "project", "envoy", "platform", "ui", "errors"]),
  layer("run", ["build", "wasm", "project", "envoy", "platform", "ui", "errors"]),
  layer("build", ["wasm", "project", "envoy", "platform", "ui", "errors"]),
  layer("wasm", ["project", "envoy", "platform", "ui", "errors"]),
  layer("project", ["envoy", "platform", "ui", "errors"]),
  layer("envoy", ["platform", "ui", "errors"]),
  layer("platform", ["ui", "errors"]),
  layer("ui", ["errors"]),
  layer("errors", []),
];
const folder = (name) => (name === "errors" ? "^src/errors\\.ts$" : `^src/${name}/`);
const ALL = LAYERS.map((l) => l.name);

module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", comment: "modules importing each other, type-only imports included", from: {}, to: { circular: true } },
    ...LAYERS.filter((l) => l.below.length < ALL.length - 1).map((l) => ({
      name: `layer-${l.name}`,
      severity: "error",
      comment: `${l.name} may import only ${l.below.join(", ") || "nothing of src/"} (and itself)`,
      from: { path: folder(l.name) },
      to: {
        path: `^src/(${ALL.filter((n) => n !== l.name && !l.below.includes(n))
          .map((n) => (n === "errors" ? "errors\\.ts" : `${n}/`))
          .join("|")})`,
      },
    })),
    { name: "not-to-unresolvable", severity: "error", from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
