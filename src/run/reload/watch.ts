import { readdirSync, statSync, watch, type Dirent, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";

/**
 * Watching a project's sources for `up --watch`: the plugins' Go files and
 * go.mod/go.sum or Rust files and Cargo.toml/Cargo.lock, envoy.yaml (and
 * envoywasm.yaml), and the backend's sources.
 * Changes that come close together make one batch. Editors save in many
 * ways (write in place, write a temp file and rename): any of them counts.
 */

export interface WatchTargets {
  root: string;
  /** Folders watched recursively (the plugins', the backend's). */
  dirs: string[];
  /** Files watched by name in their folder (envoy.yaml, envoywasm.yaml). */
  files: string[];
}

// The sources of every toolchain, written out here rather than read from the toolchain adapters:
// this runs in the background supervisor, whose bundle leaves the build out. cargo's target/ holds
// thousands of folders that change on every build: never watched.
const RELEVANT = /(\.go|\/go\.mod|\/go\.sum|\.rs|\/Cargo\.toml|\/Cargo\.lock)$/;
const IGNORED_DIRS = /(^|\/)(\.git|\.envoywasm|node_modules|build|target)(\/|$)/;

export function watchSources(targets: WatchTargets, onBatch: (changed: string[]) => void, quietMs = 250): () => void {
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const note = (file: string) => {
    const rel = path.relative(targets.root, file).split(path.sep).join("/");
    if (IGNORED_DIRS.test(rel)) return;
    pending.add(rel);
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const batch = [...pending].sort();
      pending.clear();
      onBatch(batch);
    }, quietMs);
  };
  // One watch per folder, not fs.watch's recursive mode: on Linux that one
  // follows files, and loses a file an editor (or sed -i) replaces by rename.
  const watchers = new Map<string, FSWatcher>();
  const watchDir = (dir: string) => {
    if (watchers.has(dir) || IGNORED_DIRS.test(path.relative(targets.root, dir).split(path.sep).join("/"))) return;
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        if (name === null) return;
        const file = path.join(dir, name.toString());
        if (RELEVANT.test(`/${file}`)) note(file);
        else if (statSync(file, { throwIfNoEntry: false })?.isDirectory() === true) watchTree(file);
      });
    } catch {
      return; // not there (yet)
    }
    w.on("error", () => {
      w.close();
      watchers.delete(dir);
    });
    watchers.set(dir, w);
  };
  const watchTree = (dir: string) => {
    watchDir(dir);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith(".")) watchTree(path.join(dir, e.name));
  };
  for (const dir of targets.dirs) watchTree(dir);
  const fileWatchers: FSWatcher[] = [];
  const byDir = new Map<string, Set<string>>();
  for (const f of targets.files) {
    const set = byDir.get(path.dirname(f)) ?? new Set<string>();
    set.add(path.basename(f));
    byDir.set(path.dirname(f), set);
  }
  for (const [dir, names] of byDir) {
    const w = watch(dir, (_event, name) => {
      if (name !== null && names.has(name.toString())) note(path.join(dir, name.toString()));
    });
    w.on("error", () => {});
    fileWatchers.push(w);
  }
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const w of [...watchers.values(), ...fileWatchers]) w.close();
  };
}

/**
 * Without --watch: notices when a module the run serves is rebuilt under it
 * (an `envoywasm build` in another terminal) and says so once per build.
 */
export function watchBuiltModules(
  modules: { file: string; serving: () => string | undefined }[],
  onChanged: (file: string, sha256: string) => void,
  settled: () => Promise<void> = async () => {},
): () => void {
  const told = new Set<string>();
  const watchers: FSWatcher[] = [];
  const byDir = new Map<string, typeof modules>();
  for (const m of modules) byDir.set(path.dirname(m.file), [...(byDir.get(path.dirname(m.file)) ?? []), m]);
  for (const [dir, list] of byDir) {
    try {
      const w = watch(dir, (_event, name) => {
        const m = list.find((x) => path.basename(x.file) === name?.toString());
        if (m === undefined) return;
        setTimeout(() => {
          // A reload builds too: judge once it is done, against what it then serves.
          void settled()
            .then(() => readFile(m.file))
            .then(async (bytes) => {
              // crypto is loaded here, not up front: a supervisor that never sees a rebuild stays smaller.
              const { createHash } = await import("node:crypto");
              const sha = createHash("sha256").update(bytes).digest("hex");
              if (sha === m.serving() || told.has(sha)) return;
              told.add(sha);
              onChanged(m.file, sha);
            })
            .catch(() => {});
        }, 100);
      });
      w.on("error", () => {});
      watchers.push(w);
    } catch {
      // not there
    }
  }
  return () => {
    for (const w of watchers) w.close();
  };
}
