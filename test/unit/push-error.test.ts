import { describe, expect, it } from "vitest";
import { pushError } from "../../src/ship/engine-push.js";
import { parseImageRef } from "../../src/ship/image-ref.js";

describe("what a refused push means", () => {
  const ref = parseImageRef("127.0.0.1:40359/shipdemo:v1");
  const said = (message: string, hadCredentials = false) => {
    const e = pushError("127.0.0.1:40359/shipdemo:v1", ref, message, hadCredentials);
    return `${e.message}\n${e.hint ?? ""}`;
  };

  it("a registry that cannot be reached, whatever digits its port has", () => {
    const text = said('Get "http://127.0.0.1:40359/v2/": dial tcp 127.0.0.1:40359: connect: connection refused');
    expect(text).toContain("cannot reach the registry 127.0.0.1:40359");
    expect(text).not.toContain("log in");
    expect(said("Get https://127.0.0.1:40359/v2/: http: server gave HTTP response to HTTPS client")).toContain("insecure-registries");
  });

  it("a refused login, with or without saved credentials", () => {
    expect(said("unauthorized: authentication required")).toContain("log in first: `docker login 127.0.0.1:40359`");
    expect(said("denied: requested access to the resource is denied", true)).toContain("the saved login was refused");
    expect(said("received unexpected HTTP status: 403 Forbidden")).toContain("refused the push");
  });

  it("anything else as it came", () => {
    expect(said("blob upload unknown")).toMatch(/^pushing 127\.0\.0\.1:40359\/shipdemo:v1 failed: blob upload unknown/);
  });
});
