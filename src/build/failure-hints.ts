import path from "node:path";
import type { Toolchain } from "../project/config.js";

/** go refusing a go.mod that asks for a newer Go than it is, with GOTOOLCHAIN=local keeping it from fetching that Go. */
export function goTooOld(output: string, goMod: string): { message: string; hint: string } | undefined {
  const m = /go\.mod requires go >= (\S+) \(running go (\S+); GOTOOLCHAIN=local\)/.exec(output);
  if (m === null) return undefined;
  return {
    message: `${goMod} asks for Go ${m[1]}, and this Go is ${m[2]} (GOTOOLCHAIN=local: it fetches no other)`,
    hint: `install Go ${m[1]} or newer, or let go fetch it from the module proxy: GOTOOLCHAIN=auto (\`go env -w GOTOOLCHAIN=auto\`)`,
  };
}

/** What to do about a failed build step, by what its output says the cause was (the first rule that matches). */
export function failureHint(output: string, pluginDir: string, toolchain: Toolchain): string {
  const go = toolchain !== "rust";
  if (/no space left on device|disk quota exceeded/i.test(output)) {
    const caches = go
      ? "Go's build cache is `go env GOCACHE`, its module cache `go env GOMODCACHE`"
      : `cargo's output is ${pluginDir}/target, its downloads under CARGO_HOME`;
    return `the disk is full: free some space (${caches}) and build again`;
  }
  const old = go ? goTooOld(output, `${pluginDir}/go.mod`) : undefined;
  if (old !== undefined) return `${old.message}: ${old.hint}`;
  if (go && /missing go\.sum entry|updates to go\.mod needed|no required module provides package/.test(output)) {
    return `the plugin's go.mod/go.sum are out of date: run \`go mod tidy\` in ${pluginDir}/, then build again`;
  }
  if (
    go &&
    /dial tcp|no such host|i\/o timeout|connection (?:refused|reset)|TLS handshake|proxyconnect|GOPROXY|GOFLAGS=-mod=|module lookup disabled|reading https?:\/\/\S+: (?:4\d\d|5\d\d)|unrecognized import path|verifying module/.test(
      output,
    )
  ) {
    return "a Go module could not be downloaded: check the network and the module proxy (`go env GOPROXY GONOSUMDB GOFLAGS`), or vendor the modules (`go mod vendor`)";
  }
  if (
    !go &&
    /failed to (?:download|query replaced source|get `)|Unable to update registry|Couldn't resolve host|spurious network error|failed to load source for dependency/.test(
      output,
    )
  ) {
    return "a crate could not be downloaded: check the network and cargo's registry settings (CARGO_HOME/config.toml), or vendor the crates (`cargo vendor`)";
  }
  const embed = /^(\S+\.go):\d+:\d+: pattern (\S+): no matching files found/m.exec(output);
  if (go && embed !== null) {
    const file = path.posix.isAbsolute(embed[1]!) ? embed[1]! : path.posix.normalize(`${pluginDir}/${embed[1]}`);
    return `a //go:embed in ${file} names ${embed[2]}, which is not there: if a //go:generate makes it, run \`go generate\` in ${path.posix.dirname(file)}/, then build again`;
  }
  const tool = /Could not find `([\w.-]+)`|failed to (?:run|execute) `?([\w.-]+)`?: No such file or directory/.exec(output);
  if (tool !== null) return `the build needs \`${tool[1] ?? tool[2]}\`, which is not installed: install it (the message above says how) and build again`;
  if (!go && /failed to run custom build command/.test(output)) return "a crate's build script (build.rs) failed: its output is above";
  // cargo names a registry crate without a path (`Compiling log v0.4.14`), the plugin's own with its folder.
  const crate = [...output.matchAll(/could not compile `([\w-]+)`/g)]
    .map((m) => m[1]!)
    .find((name) => new RegExp(`^\\s*Compiling ${name} v[\\w.+-]+\\s*$`, "m").test(output));
  if (!go && crate !== undefined)
    return `a dependency, ${crate}, does not compile with this Rust: \`cargo update -p ${crate}\` in ${pluginDir}/ takes its newest compatible version (Cargo.lock may pin an old one), then build again`;
  return "the compiler's messages are above; fix the code and run `envoywasm build` again";
}
