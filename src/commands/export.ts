import { type ExportTarget } from "../ship/export.js";
import { type IstioPhase } from "../ship/istio-manifest.js";
import { ui } from "../ui/output.js";

export async function runExport(
  target: ExportTarget,
  opts: { image?: string; sha256?: string; url?: string; plugin?: string; out?: string; phase?: IstioPhase; json?: boolean },
  g: { cwd: string },
): Promise<void> {
  const { openProject } = await import("../project/load.js");
  const { project } = await openProject(g.cwd, (m) => ui.warn(m));
  const { exportManifest } = await import("../ship/export.js");
  const result = await exportManifest({
    cwd: g.cwd,
    target,
    project,
    image: opts.image,
    sha256: opts.sha256,
    url: opts.url,
    plugin: opts.plugin,
    out: opts.out,
    phase: opts.phase,
    onPhase: (phase) => ui.info(`${phase}…`),
    onWarning: (message) => ui.warn(message),
  });
  if (opts.json === true) {
    ui.resultJson({
      target: result.target,
      plugin: result.plugin,
      moduleSha256: result.moduleSha256,
      source: result.source,
      file: result.file,
      contents: result.contents,
    });
    return;
  }
  if (result.file === undefined) {
    ui.result(result.contents);
    return;
  }
  ui.success(`wrote ${target} config for ${result.plugin} (${result.source.kind === "image" ? result.source.image : result.source.url})`);
  ui.result(result.file);
}
