import { ui } from "../ui/output.js";
import { startProgress } from "../ui/progress.js";

export async function runPush(ref: string, opts: { json?: boolean }, g: { cwd: string }): Promise<void> {
  const { openProject } = await import("../project/load.js");
  const { project } = await openProject(g.cwd, (m) => ui.warn(m));
  const progress = ui.json ? undefined : await startProgress(`pushing ${ref}`);
  try {
    const { push } = await import("../ship/push.js");
    const result = await push({
      cwd: g.cwd,
      ref,
      project,
      onProgress: (text) => progress?.update(text),
      onCredentials: (source) => ui.debug(`registry credentials: ${source}`),
    });
    if (opts.json === true || ui.json) {
      progress?.stop();
      ui.resultJson({ image: result.image, digest: result.digest, moduleSha256: result.moduleSha256, pushedAt: result.pushedAt });
      return;
    }
    progress?.succeed(`pushed ${result.image} (module sha256 ${result.moduleSha256.slice(0, 12)}); recorded in ${result.recordedIn}`);
    ui.result(result.digest);
  } catch (error) {
    progress?.fail();
    throw error;
  }
}
