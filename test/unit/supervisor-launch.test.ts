import { describe, expect, it } from "vitest";
import { childEnv, supervisorEnv, SUPERVISOR_TUNABLES } from "../../src/run/supervisor/launch.js";

describe("the background supervisor's environment", () => {
  const user = { PATH: "/usr/bin", NODE_EXTRA_CA_CERTS: "/etc/ca.pem", NO_COLOR: undefined };

  it("has its own settings, and what it starts gets the user's environment back exactly", () => {
    const own = supervisorEnv(user);
    expect(own.GLIBC_TUNABLES).toBe(SUPERVISOR_TUNABLES);
    expect(own.NO_COLOR).toBe("1");
    expect("NODE_EXTRA_CA_CERTS" in own).toBe(false);
    expect(childEnv(own)).toEqual({ PATH: "/usr/bin", NODE_EXTRA_CA_CERTS: "/etc/ca.pem" });
  });

  it("keeps the user's GLIBC_TUNABLES and NO_COLOR, and their CA bundle when Docker is remote", () => {
    const theirs = { PATH: "/bin", GLIBC_TUNABLES: "glibc.malloc.arena_max=2", NO_COLOR: "", NODE_EXTRA_CA_CERTS: "/ca.pem", DOCKER_HOST: "tcp://build:2376" };
    const own = supervisorEnv(theirs);
    expect(own.GLIBC_TUNABLES).toBe("glibc.malloc.arena_max=2");
    expect(own.NODE_EXTRA_CA_CERTS).toBe("/ca.pem");
    expect(childEnv(own)).toEqual(theirs);
    expect("NODE_EXTRA_CA_CERTS" in supervisorEnv({ ...theirs, DOCKER_HOST: "unix:///run/docker.sock" })).toBe(false);
  });

  it("is left as it is outside a background supervisor, and a mangled record only loses the record", () => {
    expect(childEnv(user)).toBe(user);
    expect(childEnv({ PATH: "/bin", ENVOYWASM_SUPERVISOR_ENV: "{not json" })).toEqual({ PATH: "/bin" });
  });
});
