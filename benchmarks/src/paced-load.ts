import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentile } from './passthrough';

export interface PacedLoadOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  requestsPerSecond: number;
  seconds: number;
}

export interface PacedLoadResult {
  requests: number;
  ok: number;
  failed: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/**
 * Requests at evenly spaced instants (not in per-second bursts, as autocannon's rate limit sends them), each
 * measured from the instant it was due, so a stalled server is charged for the requests it delayed (no coordinated
 * omission). Keep-alive connections, as SDKs use.
 */
export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(options.url);
  const interval = 1000 / options.requestsPerSecond;
  const total = Math.round(options.requestsPerSecond * options.seconds);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const start = performance.now() + 50;
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const due = start + index * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      new Promise<void>((resolve) => {
        const req = request(
          { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body) } },
          (response) => {
            response.resume();
            response.on('end', () => {
              latencies.push(performance.now() - due);
              if (response.statusCode === 200) ok++;
              else failed++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          failed++;
          resolve();
        });
        req.end(options.body);
      }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => Number(percentile(latencies, p).toFixed(1));
  return { requests: total, ok, failed, latencyMs: { p50: at(50), p90: at(90), p99: at(99), max: Number(latencies[latencies.length - 1].toFixed(1)) } };
}
