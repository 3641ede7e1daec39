/** The load bench sends (autocannon), and what one Envoy's share of it came to. */

export interface LoadRequest {
  connections: number;
  /** Requests per second in all; unset: as fast as it answers. */
  rate?: number;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  latencyUs: { p50: number; p90: number; p99: number; mean: number; max: number };
  errors: number;
  non2xx: number;
  /** Latencies counted in buckets: below `upToMs` (the last bucket has no limit). */
  histogram: { upToMs: number | null; count: number }[];
}

export interface Sample {
  latencies: number[];
  seconds: number;
  errors: number;
  non2xx: number;
}

const BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250];

/** Sends load for `seconds`, or until `stop` settles (the Envoys are gone). */
export async function load(url: string, o: LoadRequest, seconds: number, stop?: Promise<unknown>): Promise<Sample> {
  const { default: autocannon } = await import("autocannon");
  const latencies: number[] = [];
  let non2xx = 0;
  const started = performance.now();
  let finish!: (r: { errors: number }) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<{ errors: number }>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url,
      duration: seconds,
      connections: o.connections,
      method: o.method as "GET",
      headers: o.headers,
      body: o.body,
      overallRate: o.rate,
    },
    (error, result) => (error === null || error === undefined ? finish(result) : fail(error instanceof Error ? error : new Error(String(error)))),
  );
  const end = () => instance.stop();
  void stop?.then(end, end);
  instance.on("response", (_client: unknown, status: number, _bytes: number, time: number) => {
    if (latencies.length < 2_000_000) latencies.push(time);
    if (status < 200 || status > 299) non2xx++;
  });
  const result = await done;
  return { latencies, seconds: (performance.now() - started) / 1000, errors: result.errors, non2xx };
}

export function summarize(samples: Sample[]): LoadResult {
  const latencies = samples.flatMap((s) => s.latencies).sort((x, y) => x - y);
  const seconds = samples.reduce((t, s) => t + s.seconds, 0);
  const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  const histogram = [...BUCKETS, null].map((upToMs) => ({ upToMs, count: 0 }));
  for (const l of latencies) {
    const i = BUCKETS.findIndex((b) => l < b);
    histogram[i === -1 ? BUCKETS.length : i]!.count++;
  }
  const us = (ms: number) => Math.round(ms * 1000);
  return {
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / Math.max(seconds, 0.001)),
    latencyUs: {
      p50: us(at(0.5)),
      p90: us(at(0.9)),
      p99: us(at(0.99)),
      mean: us(latencies.reduce((t, l) => t + l, 0) / Math.max(1, latencies.length)),
      max: us(latencies[latencies.length - 1] ?? 0),
    },
    errors: samples.reduce((t, s) => t + s.errors, 0),
    non2xx: samples.reduce((t, s) => t + s.non2xx, 0),
    histogram,
  };
}
