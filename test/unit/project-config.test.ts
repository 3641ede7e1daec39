import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isEnvoywasmError, UserError } from "../../src/errors.js";
import { legacyWarning, loadProject, parseProjectConfig, parseProjectFile } from "../../src/project/config.js";
import { closest } from "../../src/platform/closest.js";
import { findProjectRoot } from "../../src/project/root.js";
import { loadBootstrap } from "../../src/envoy/bootstrap.js";

/** Runs parseProjectConfig and returns the UserError it must throw. */
function failure(text: string, displayName?: string): UserError {
  try {
    parseProjectConfig(text, displayName);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error(`expected parseProjectConfig to fail for:\n${text}`);
}

const FULL = `# a project file with every setting
name: my-plugin
toolchain: tinygo
runtime: docker
plugins:
  - src/auth
  - src/headers
build:
  flags: [-gc=custom, "-tags=custommalloc nottinygc_envoy"]
envoy:
  config: conf/envoy.yaml
  version: "1.39.1"
  bin: /opt/envoy/bin/envoy
  image: envoyproxy/envoy:v1.39-latest
  logLevel: debug
backend:
  dir: services/backend
  cluster: upstream
`;

/** envoywasm 0.1.0 wrote these; envoy.yaml holds their facts now. */
const V010 = `name: old
toolchain: go
runtime: native
plugin:
  dir: plugin
  wasm: build/old.wasm
  rootId: old
  vmId: old
  config: {}
envoy:
  config: envoy.yaml
ports:
  listener: 8085
  admin: 8001
  backend: 8080
backend:
  dir: backend
`;

describe("parseProjectConfig", () => {
  it("reads every setting of a full config", () => {
    expect(parseProjectConfig(FULL)).toEqual({
      name: "my-plugin",
      toolchain: "tinygo",
      runtime: "docker",
      plugins: ["src/auth", "src/headers"],
      build: { flags: ["-gc=custom", "-tags=custommalloc nottinygc_envoy"] },
      envoy: {
        config: "conf/envoy.yaml",
        version: "1.39.1",
        bin: "/opt/envoy/bin/envoy",
        image: "envoyproxy/envoy:v1.39-latest",
        logLevel: "debug",
      },
      backend: { dir: "services/backend", cluster: "upstream" },
    });
  });

  it("fills in defaults from a config with only a name: one plugin folder, no backend", () => {
    const config = parseProjectConfig("name: x\n");
    expect(config).toEqual({
      name: "x",
      toolchain: "go",
      runtime: "native",
      plugins: ["plugin"],
      envoy: { config: "envoy.yaml", logLevel: "info" },
    });
    // Optional settings are absent, not present-and-undefined.
    for (const key of ["version", "bin", "image"]) expect(key in config.envoy).toBe(false);
    expect("backend" in config).toBe(false);
  });

  it("treats empty sections and null values as unset", () => {
    const config = parseProjectConfig("name: a1\nenvoy:\n  version:\n  bin: ~\nbackend:\n");
    expect("version" in config.envoy).toBe(false);
    expect("bin" in config.envoy).toBe(false);
    expect("backend" in config).toBe(false);
    expect(parseProjectConfig("name: a1\nbackend: {}\n").backend).toEqual({ dir: "backend" });
  });

  it("accepts a two-part envoy.version when it is quoted", () => {
    expect(parseProjectConfig('name: x\nenvoy:\n  version: "1.40"\n').envoy.version).toBe("1.40");
    // Unquoted, YAML reads 1.40 as the number 1.4: it must be refused, not misread.
    const e = failure("name: x\nenvoy:\n  version: 1.40\n");
    expect(e.message).toBe("envoywasm.yaml:3:12: envoy.version must be a non-empty string (got 1.4)");
  });

  it("keeps a 0.1.0 project working, noting which lines are no longer read", () => {
    const { config, legacy } = parseProjectFile(V010);
    expect(config.plugins).toEqual(["plugin"]);
    expect(config.backend).toEqual({ dir: "backend" });
    expect(legacy).toEqual([
      { key: "ports", lines: [12, 15] },
      { key: "plugin", lines: [4, 9] },
    ]);
    const warning = legacyWarning({ root: "/p", file: "/p/envoywasm.yaml", config, legacy });
    expect(warning).toBe(
      "envoywasm.yaml is from envoywasm 0.1.0: envoy.yaml now holds the ports and the plugin's settings, and these are no longer read: " +
        "ports (lines 12-15), plugin (lines 4-9). Delete them; in place of plugin:, write `plugins: [plugin]`.",
    );
    expect(legacyWarning({ root: "/p", file: "/p/envoywasm.yaml", config, legacy: [] })).toBeUndefined();
  });

  it("refuses plugins: and the 0.1.0 plugin: together, and duplicate plugin folders", () => {
    expect(failure("name: x\nplugins: [a]\nplugin:\n  dir: b\n").message).toBe(
      "envoywasm.yaml:3:1: plugin is the 0.1.0 form of plugins:, which this file has too",
    );
    expect(failure("name: x\nplugins: [a, ./a/]\n").message).toBe('envoywasm.yaml:2:14: plugins.1 lists "./a/" twice');
    // Read as the folders they name: messages say plugin/, not plugin//.
    const read = parseProjectConfig("name: x\nplugins: [plugin/, ./src//auth]\nbackend:\n  dir: ./svc/\n");
    expect(read.plugins).toEqual(["plugin", "src/auth"]);
    expect(read.backend?.dir).toBe("svc");
    expect(failure("name: x\nplugins: []\n").message).toBe("envoywasm.yaml:2:10: plugins must be a list of plugin folders, e.g. [plugin]");
    expect(failure("name: x\nbuild:\n  flags: -tags=x\n").message).toBe(
      "envoywasm.yaml:3:10: build.flags must be a list of the compiler's arguments, e.g. [-tags=mytag]",
    );
  });

  describe("YAML syntax errors", () => {
    it("points at the line and column of the error", () => {
      const e = failure("name: x\ntoolchain: go\nruntime: @native\n");
      expect(e.message).toMatch(/^envoywasm\.yaml:3:10: invalid YAML: /);
      expect(e.message).toContain("reserved character @");
      expect(e.exitCode).toBe(1);
      expect(e.hint).toContain("fix the syntax of envoywasm.yaml");
    });

    it("reports tabs used as indentation on their line", () => {
      expect(failure("name: x\nbackend:\n\tdir: p\n").message).toMatch(/^envoywasm\.yaml:3:1: invalid YAML: Tabs/);
    });

    it("keeps only the first line of the parser's message", () => {
      const e = failure("name: x\nbackend:\n  dir: p\n  wasm: a: b\n");
      expect(e.message).toMatch(/^envoywasm\.yaml:4:9: invalid YAML: /);
      expect(e.message).not.toContain("\n");
    });

    it("refuses duplicate keys", () => {
      const e = failure("name: x\ntoolchain: go\nname: y\n");
      expect(e.message).toMatch(/^envoywasm\.yaml:3:1: invalid YAML: Map keys must be unique/);
    });

    it("uses the display name it is given", () => {
      expect(failure("a: [\n", "../proj/envoywasm.yaml").message).toMatch(/^\.\.\/proj\/envoywasm\.yaml:\d+:\d+: invalid YAML/);
    });
  });

  describe("unknown settings", () => {
    it("names a misspelt top-level key and suggests the right one", () => {
      const e = failure("name: x\nplugns: [a]\n");
      expect(e.message).toBe('envoywasm.yaml:2:1: plugns unknown setting (did you mean "plugins"?)');
      expect(e.hint).toBe("allowed here: name, toolchain, runtime, plugins, backend, build, try, envoy, plugin, ports");
      expect(e.exitCode).toBe(1);
    });

    it("names the full path of a misspelt nested key", () => {
      const e = failure("name: x\nbackend:\n  clustr: b\n");
      expect(e.message).toBe('envoywasm.yaml:3:3: backend.clustr unknown setting (did you mean "cluster"?)');
      expect(e.hint).toBe("allowed here: dir, cluster");
    });

    it("gives no suggestion for a key that resembles nothing", () => {
      const e = failure("name: x\nenvoy:\n  frobnicate: 1\n");
      expect(e.message).toBe("envoywasm.yaml:3:3: envoy.frobnicate unknown setting");
      expect(e.hint).toBe("allowed here: config, version, bin, image, logLevel");
    });

    it("points at the unknown key itself when its value is a block mapping", () => {
      const e = failure("name: x\nbacknd:\n  dir: p\n");
      expect(e.message).toBe('envoywasm.yaml:2:1: backnd unknown setting (did you mean "backend"?)');
    });
  });

  describe("invalid values name the key, what is allowed, and where the value is", () => {
    const cases: { what: string; text: string; message: string; hint?: string }[] = [
      {
        what: "an unknown toolchain",
        text: "name: x\ntoolchain: zig\n",
        message: 'envoywasm.yaml:2:12: toolchain must be one of go, tinygo, rust (got "zig")',
      },
      {
        what: "an unknown runtime",
        text: "name: x\n\nruntime: podman\n",
        message: 'envoywasm.yaml:3:10: runtime must be one of native, docker (got "podman")',
      },
      {
        what: "an unknown log level",
        text: "name: x\nenvoy:\n  logLevel: verbose\n",
        message: 'envoywasm.yaml:3:13: envoy.logLevel must be one of trace, debug, info, warning, warn, error, critical, off (got "verbose")',
      },
      {
        what: "a name with capitals",
        text: "# project\nname: MyPlugin\n",
        message: 'envoywasm.yaml:2:7: name is not valid (got "MyPlugin")',
        hint: "use lowercase letters, digits and single dashes, starting with a letter (e.g. my-plugin)",
      },
      {
        what: "a name with a double dash",
        text: "name: my--plugin\n",
        message: 'envoywasm.yaml:1:7: name is not valid (got "my--plugin")',
        hint: "use lowercase letters, digits and single dashes, starting with a letter (e.g. my-plugin)",
      },
      {
        what: "a numeric name",
        text: "name: 42\n",
        message: "envoywasm.yaml:1:7: name must be a non-empty string (got 42)",
        hint: 'quote it: "42"',
      },
      {
        what: "an absolute plugin folder",
        text: "name: x\nplugins:\n  - /tmp/x\n",
        message: 'envoywasm.yaml:3:5: plugins.0 must be a path inside the project (got "/tmp/x")',
        hint: "use a path relative to the project root, without ..",
      },
      {
        what: "a plugin folder that climbs out with ..",
        text: "name: x\nplugins: [a/../../x]\n",
        message: 'envoywasm.yaml:2:11: plugins.0 must be a path inside the project (got "a/../../x")',
        hint: "use a path relative to the project root, without ..",
      },
      {
        what: "a backend.dir with a Windows-style ..",
        text: "name: x\nbackend:\n  dir: ..\\elsewhere\n",
        message: 'envoywasm.yaml:3:8: backend.dir must be a path inside the project (got "..\\\\elsewhere")',
        hint: "use a path relative to the project root, without ..",
      },
      {
        what: "a section that is not a mapping",
        text: "name: x\nbackend: 5\n",
        message: "envoywasm.yaml:2:10: backend must be a mapping",
      },
      {
        what: "a try: request whose path does not start with /",
        text: "name: x\ntry:\n  - path: hello\n",
        message: 'envoywasm.yaml:3:11: try.0.path is not valid (got "hello")',
        hint: "use a path starting with /",
      },
      {
        what: "an envoy.version that is not a version",
        text: "name: x\nenvoy:\n  version: latest\n",
        message: 'envoywasm.yaml:3:12: envoy.version is not valid (got "latest")',
        hint: 'use an Envoy version such as "1.40.0" or "1.40"',
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.what}`, () => {
        const e = failure(c.text);
        expect(e.message).toBe(c.message);
        expect(e.exitCode).toBe(1);
        // Without a hint of its own, the error says which file to edit.
        expect(e.hint).toBe(c.hint ?? "edit envoywasm.yaml");
      });
    }

    it("hints at the file to edit when there is no better hint", () => {
      const e = failure("name: x\ntoolchain: zig\n", "sub/envoywasm.yaml");
      expect(e.message).toMatch(/^sub\/envoywasm\.yaml:2:12: /);
      expect(e.hint).toBe("edit sub/envoywasm.yaml");
    });

    it("requires a name, pointing at the start of the file", () => {
      const e = failure("toolchain: go\n");
      expect(e.message).toBe("envoywasm.yaml:1:1: name is required");
      expect(e.hint).toContain("lowercase letters");
    });

    it("refuses a file that is not a mapping", () => {
      expect(failure("- a\n- b\n").message).toBe("envoywasm.yaml:1:1: must be a YAML mapping of settings");
      expect(failure("").message).toBe("envoywasm.yaml: must be a YAML mapping of settings");
    });
  });
});

describe("closest", () => {
  const TOP = ["name", "toolchain", "runtime", "plugins", "envoy", "backend"];
  it("suggests the nearest allowed word for a typo", () => {
    expect(closest("plugns", TOP)).toBe("plugins");
    expect(closest("toolchian", TOP)).toBe("toolchain");
    expect(closest("listner", ["listener", "admin", "backend"])).toBe("listener");
    expect(closest("nam", TOP)).toBe("name");
  });
  it("ignores case when comparing but returns the candidate's spelling", () => {
    expect(closest("LogLevel", ["logLevel"])).toBe("logLevel");
    expect(closest("rootid", ["rootId", "vmId"])).toBe("rootId");
  });
  it("suggests nothing when nothing is near", () => {
    expect(closest("xyz", TOP)).toBeUndefined();
    expect(closest("lstnr", ["listener"])).toBeUndefined();
    expect(closest("ab", ["admin"])).toBeUndefined();
    expect(closest("anything", [])).toBeUndefined();
  });
});

describe("findProjectRoot and loadProject", () => {
  let tmp: string | undefined;
  afterEach(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  async function makeProject(text: string): Promise<{ root: string; nested: string }> {
    tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "envoywasm-config-")));
    const root = path.join(tmp, "proj");
    const nested = path.join(root, "plugin", "deep", "er");
    await mkdir(nested, { recursive: true });
    await writeFile(path.join(root, "envoywasm.yaml"), text);
    return { root, nested };
  }

  it("walks up from a nested folder to the folder with envoywasm.yaml", async () => {
    const { root, nested } = await makeProject("name: x\n");
    expect(findProjectRoot(nested)).toBe(root);
    expect(findProjectRoot(root)).toBe(root);
    // a relative start is resolved against the process's cwd
    expect(findProjectRoot(path.relative(process.cwd(), nested))).toBe(root);
  });

  it("returns undefined when no folder up to / has one", async () => {
    await makeProject("name: x\n");
    // tmp itself (above proj) has no envoywasm.yaml, nor does anything above it
    expect(findProjectRoot(tmp!)).toBeUndefined();
  });

  it("loads the project from a nested folder, naming the file relative to the cwd in errors", async () => {
    const { root, nested } = await makeProject("name: x\ntoolchain: zig\n");
    const error = await loadProject(nested).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe('../../../envoywasm.yaml:2:12: toolchain must be one of go, tinygo, rust (got "zig")');
    await writeFile(path.join(root, "envoywasm.yaml"), "name: good\n");
    const project = await loadProject(nested);
    expect(project.root).toBe(root);
    expect(project.file).toBe(path.join(root, "envoywasm.yaml"));
    expect(project.config.name).toBe("good");
  });

  it("a folder where envoywasm.yaml or envoy.yaml should be is the user's to move (exit 1, named), not an internal error", async () => {
    const { root, nested } = await makeProject("name: x\n");
    await rm(path.join(root, "envoywasm.yaml"));
    await mkdir(path.join(root, "envoywasm.yaml"));
    const error = await loadProject(nested).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe("../../../envoywasm.yaml is a folder; it must be a file");
    expect((error as UserError).hint).toBe("move the folder ../../../envoywasm.yaml away");
    await mkdir(path.join(root, "envoy.yaml"));
    const envoy = await loadBootstrap(path.join(root, "envoy.yaml"), "envoy.yaml").catch((e: unknown) => e);
    expect(envoy).toBeInstanceOf(UserError);
    expect((envoy as UserError).message).toBe("envoy.yaml is a folder; it must be a file");
    const missing = await loadBootstrap(path.join(root, "other.yaml"), "other.yaml").catch((e: unknown) => e);
    expect((missing as UserError).message).toBe("other.yaml not found");
    expect((missing as UserError).hint).toContain("envoy.config in envoywasm.yaml");
  });

  it("says how to create a project when there is none", async () => {
    await makeProject("name: x\n");
    const error = await loadProject(tmp!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain(`no envoywasm.yaml found in ${tmp}`);
    expect((error as UserError).hint).toContain("envoywasm init");
  });
});

describe("envoywasm.yaml's resource limits", () => {
  it("an alias bomb is the user's file (a UserError naming it, exit 1), not an internal error", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ...["b", "c", "d", "e", "f", "g"].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefg"[i]}`).join(", ")}]`),
    ].join("\n");
    expect(() => parseProjectFile(`name: p\nplugins: [plugin]\n${bomb}\n`)).toThrow(/envoywasm\.yaml: Excessive alias count/);
    let caught: unknown;
    try {
      parseProjectFile(`name: p\n${bomb}\n`);
    } catch (error) {
      caught = error;
    }
    expect(isEnvoywasmError(caught) && caught.exitCode).toBe(1);
  });
});
