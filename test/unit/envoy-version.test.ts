import { describe, expect, it } from "vitest";
import { compareVersions, parseEnvoyVersion } from "../../src/envoy/binary.js";

describe("parseEnvoyVersion", () => {
  it("reads the version from a pip-installed Envoy, not the Python version in its path", () => {
    expect(
      parseEnvoyVersion("\n/root/.pyenv/versions/3.11.7/bin/envoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL\n\n"),
    ).toBe("1.40.0");
  });

  it("reads official, dev and distro builds", () => {
    expect(parseEnvoyVersion("envoy  version: 6c5f3b6e2b9d0b46f9b4e0b1d8b5ce3e1d2c9a11/1.33.2/Clean/RELEASE/BoringSSL")).toBe("1.33.2");
    expect(parseEnvoyVersion("/usr/local/bin/envoy  version: abcdef0/1.41.0-dev/Modified/DEBUG/BoringSSL-FIPS")).toBe("1.41.0");
    expect(parseEnvoyVersion("envoy version: 1.28.0")).toBe("1.28.0");
  });

  it("returns undefined for output that is not Envoy's", () => {
    expect(parseEnvoyVersion("")).toBeUndefined();
    expect(parseEnvoyVersion("Python 3.11.7")).toBeUndefined();
    expect(parseEnvoyVersion("command not found: envoy")).toBeUndefined();
  });
});

describe("compareVersions", () => {
  it("compares numerically, part by part", () => {
    expect(compareVersions("1.40.0", "1.39.9")).toBeGreaterThan(0);
    expect(compareVersions("1.9.0", "1.10.0")).toBeLessThan(0);
    expect(compareVersions("1.33.0", "1.33.0")).toBe(0);
    expect(compareVersions("1.33.1", "1.33.0")).toBeGreaterThan(0);
    expect(compareVersions("2.0.0", "1.99.99")).toBeGreaterThan(0);
  });

  it("treats missing parts as zero", () => {
    expect(compareVersions("1.40", "1.40.0")).toBe(0);
    expect(compareVersions("1.40", "1.40.1")).toBeLessThan(0);
  });

  it("sorts versions", () => {
    expect(["1.10.0", "1.9.3", "1.40.0", "1.33.0", "1.9.10"].sort(compareVersions)).toEqual(["1.9.3", "1.9.10", "1.10.0", "1.33.0", "1.40.0"]);
  });
});
