import { ui } from "../ui/output.js";
import { startProgress } from "../ui/progress.js";

export async function runPackage(opts: { tag?: string; plugin?: string; ociLayout?: string; json?: boolean }, g: { cwd: string }): Promise<void> {
  const { openProject } = await import("../project/load.js");
  const { project } = await openProject(g.cwd, (m) => ui.warn(m));
  const progress = ui.json ? undefined : await startProgress("packaging");
  try {
    const { packagePlugin } = await import("../ship/package.js");
    const result = await packagePlugin({
      cwd: g.cwd,
      project,
      tag: opts.tag,
      plugin: opts.plugin,
      ociLayout: opts.ociLayout,
      onPhase: (phase) => progress?.update(phase),
      onCompilerOutput: (text) => {
        progress?.stop();
        process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
      },
    });
    for (const w of result.warnings) ui.warn(w);
    if (opts.json === true || ui.json) {
      progress?.stop();
      ui.resultJson({
        image: result.image,
        moduleSha256: result.moduleSha256,
        ...(result.ociLayout === undefined ? {} : { ociLayout: result.ociLayout, manifestDigest: result.manifestDigest }),
      });
      return;
    }
    progress?.succeed(
      result.ociLayout === undefined
        ? `packaged ${result.wasmRelative} (module sha256 ${result.moduleSha256}) as ${result.image}; push it with \`envoywasm push ${result.image}\``
        : `wrote an OCI image layout of ${result.wasmRelative} (module sha256 ${result.moduleSha256}) to ${result.ociLayout}, manifest ${result.manifestDigest}`,
    );
    ui.result(result.image);
  } catch (error) {
    progress?.fail();
    throw error;
  }
}
