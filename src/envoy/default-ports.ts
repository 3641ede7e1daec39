/** The ports a fresh project's envoy.yaml gets (init, and init --from without a config) unless told others. */
export const DEFAULT_PORTS = { listener: 8085, admin: 8001, backend: 8080 } as const;
