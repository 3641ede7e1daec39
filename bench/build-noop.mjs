#!/usr/bin/env node
// How long a no-op `envoywasm build` takes next to the compile it skips.
// Baselines measured in the same run (machines here are noisy): the Go
// compile itself with a warm build cache, run directly, and a forced
// `envoywasm build --force`. Prints medians and ratios; asserts nothing.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/envoywasm.js", import.meta.url));
const runs = Number(process.env.RUNS ?? 7);
const root = mkdtempSync(path.join(os.tmpdir(), "envoywasm-bench-"));

function time(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const quiet = { stdio: "ignore" };

try {
  execFileSync(process.execPath, [cli, "init", "bench", "--yes"], { cwd: root, ...quiet });
  const dir = path.join(root, "bench");
  execFileSync(process.execPath, [cli, "build"], { cwd: dir, ...quiet }); // warm Go's caches
  const plugin = path.join(dir, "plugin");
  const goBuild = [];
  const goChanged = [];
  const forced = [];
  const noop = [];
  for (let i = 0; i < runs; i++) {
    goBuild.push(
      time(() =>
        execFileSync("go", ["build", "-buildmode=c-shared", "-o", path.join(root, "direct.wasm"), "."], {
          cwd: plugin,
          env: { ...process.env, GOOS: "wasip1", GOARCH: "wasm" },
          ...quiet,
        }),
      ),
    );
    // The compile a no-op build skips: the plugin changed, so Go recompiles it and links.
    appendFileSync(path.join(plugin, "main.go"), `\n// bench change ${i}\n`);
    goChanged.push(
      time(() =>
        execFileSync("go", ["build", "-buildmode=c-shared", "-o", path.join(root, "direct.wasm"), "."], {
          cwd: plugin,
          env: { ...process.env, GOOS: "wasip1", GOARCH: "wasm" },
          ...quiet,
        }),
      ),
    );
    forced.push(time(() => execFileSync(process.execPath, [cli, "build", "--force"], { cwd: dir, ...quiet })));
    noop.push(time(() => execFileSync(process.execPath, [cli, "build"], { cwd: dir, ...quiet })));
  }
  // Once: the compile with an empty Go build cache (a fresh machine, or a new Go).
  const emptyCache = mkdtempSync(path.join(os.tmpdir(), "envoywasm-gocache-"));
  const cold = time(() =>
    execFileSync("go", ["build", "-buildmode=c-shared", "-o", path.join(root, "direct.wasm"), "."], {
      cwd: plugin,
      env: { ...process.env, GOOS: "wasip1", GOARCH: "wasm", GOCACHE: emptyCache },
      ...quiet,
    }),
  );
  rmSync(emptyCache, { recursive: true, force: true });
  const c = median(goChanged);
  const g = median(goBuild);
  const f = median(forced);
  const n = median(noop);
  const row = (label, ms) => console.log(`${label.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms   ${(ms / c).toFixed(3)}`);
  console.log(`runs: ${runs} each; medians; last column: ratio to the first row`);
  row("go build after a change (the compile skipped)", c);
  row("go build with an empty build cache (1 run)", cold);
  row("go build with nothing changed (Go's own cache)", g);
  row("envoywasm build --force", f);
  row("envoywasm build, up to date", n);
} finally {
  rmSync(root, { recursive: true, force: true });
}
