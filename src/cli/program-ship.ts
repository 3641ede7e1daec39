import { Argument, Option, type Command } from "commander";
import type { ExportTarget } from "../ship/export.js";
import type { IstioPhase } from "../ship/istio-manifest.js";
import { example, globals } from "./options.js";

/**
 * `package`, `push` and `export`: from a built module to what a cluster
 * operator applies. Results on stdout; progress on stderr.
 */

export function registerShipCommands(program: Command): void {
  program
    .command("package")
    .summary("package the plugin's module as an OCI image (Docker engine, or an OCI layout on disk)")
    .description(
      "Build the plugin if it is stale (refusing a module Envoy would not load), then make an image of the " +
        'module in the Wasm "compat" layout Istio and Envoy Gateway pull: FROM scratch, one layer holding ' +
        "plugin.wasm, labelled module.wasm.image/variant=compat. It is built in the Docker engine (no Dockerfile is written into the project), or with --oci-layout written to a folder with no engine at all (`tar -C <dir> -cf - . | docker load` loads it). Prints the image reference; push it with `envoywasm push`.",
    )
    .option("-t, --tag <ref>", "the image reference (default: <project name>:<first 12 hex of the module's sha256>)")
    .option("--plugin <dir>", "the plugin folder, when the project has several")
    .option("--oci-layout <dir>", "write an OCI image layout to <dir> instead of building in the Docker engine")
    .option("--json", 'print {"image", "moduleSha256", "ociLayout"?} and nothing else on stdout')
    .addHelpText(
      "after",
      example(`envoywasm package
        envoywasm package --tag ghcr.io/acme/my-plugin:v1 && envoywasm push ghcr.io/acme/my-plugin:v1
        envoywasm package --oci-layout build/oci --json`),
    )
    .action(async (opts: { tag?: string; plugin?: string; ociLayout?: string; json?: boolean }, command: Command) => {
      const { runPackage } = await import("../commands/package.js");
      await runPackage(opts, globals(command));
    });

  program
    .command("push")
    .summary("push an image made by `package` to its registry, and record its digest for `export`")
    .description(
      "Push a local image made by `envoywasm package` through the Docker engine, with the credentials `docker login` saved ($DOCKER_CONFIG/config.json, else ~/.docker/config.json: auths, or the credsStore / credHelpers helper). Credentials are never printed. Prints the manifest digest the registry stored and records it in .envoywasm/ship.json, where `envoywasm export` finds it.",
    )
    .argument("<ref>", "the image, as `package` tagged it, e.g. ghcr.io/acme/my-plugin:v1")
    .option("--json", 'print {"image", "digest", "moduleSha256", "pushedAt"} and nothing else on stdout')
    .addHelpText("after", example(`envoywasm push ghcr.io/acme/my-plugin:v1\nenvoywasm push 127.0.0.1:5000/my-plugin:dev --json`))
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { runPush } = await import("../commands/push.js");
      await runPush(ref, opts, globals(command));
    });

  program
    .command("export")
    .summary("write the Istio, Envoy Gateway or plain-Envoy config that runs the plugin as envoy.yaml does")
    .description(
      "Write a manifest from envoy.yaml (plugin name, root_id, configuration, failure policy), so what ran locally is what ships: istio (WasmPlugin), envoy-gateway (EnvoyExtensionPolicy) or envoy (the HTTP filter and cluster for a plain Envoy fetching the module over http(s)). The image and its manifest digest come from the last `envoywasm push` (.envoywasm/ship.json) unless --image/--sha256 say otherwise. With --url the module file is fetched from there and sha256 is the module's own. To stdout, or a file in --out.",
    )
    .addArgument(new Argument("<target>", "what runs the plugin").choices(["istio", "envoy-gateway", "envoy"]))
    .option("--image <ref>", "the pushed image (default: the last push, from .envoywasm/ship.json)")
    .option("--sha256 <hex>", "with an image: its manifest digest (default: from the last push); with --url: the module's (default: the built module's)")
    .option("--url <url>", "an http(s) URL serving the module file (required for envoy)")
    .option("--plugin <dir>", "the plugin folder, when the project has several")
    .option("-o, --out <dir>", "write <project>-<kind>.yaml into <dir> instead of printing it")
    .addOption(new Option("--phase <phase>", "istio: where in the filter chain the plugin runs").choices(["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"]))
    .option("--json", 'print {"target", "plugin", "moduleSha256", "source", "file"?, "contents"} and nothing else on stdout')
    .addHelpText(
      "after",
      example(`envoywasm export istio > wasmplugin.yaml
        envoywasm export envoy-gateway --out deploy/
        envoywasm export istio --image ghcr.io/acme/my-plugin:v1 --sha256 <manifest digest> --phase AUTHZ
        envoywasm export envoy --url https://downloads.example.com/my-plugin.wasm`),
    )
    .action(
      async (
        target: ExportTarget,
        opts: { image?: string; sha256?: string; url?: string; plugin?: string; out?: string; phase?: IstioPhase; json?: boolean },
        command: Command,
      ) => {
        const { runExport } = await import("../commands/export.js");
        await runExport(target, opts, globals(command));
      },
    );
}
