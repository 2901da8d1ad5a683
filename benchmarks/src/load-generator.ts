import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { pacedLoad, PacedLoadOptions, PacedLoadResult } from './paced-load';

/**
 * The HTTP load generator as a process of its own, as the benchmark's brief asks: its event loop and garbage
 * collector are not the benchmark's (which also ran the passthrough measurement and holds Kafka clients), so a pause
 * in the harness is not charged to the collector. Run as a child: the spec as JSON on stdin, the result as JSON on
 * stdout.
 */
export type LoadSpec =
  | ({ mode: 'paced' } & PacedLoadOptions)
  | { mode: 'saturate'; url: string; headers: Record<string, string>; body: string; connections: number; seconds: number };

export interface SaturationResult {
  ok: number;
  non2xx: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

export function runLoadGenerator(spec: Extract<LoadSpec, { mode: 'paced' }>): Promise<PacedLoadResult>;
export function runLoadGenerator(spec: Extract<LoadSpec, { mode: 'saturate' }>): Promise<SaturationResult>;
export function runLoadGenerator(spec: LoadSpec): Promise<PacedLoadResult | SaturationResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', __filename], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(JSON.stringify(spec));
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    // 'close', not 'exit': the result is only complete once stdout has been read to its end.
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the load generator exited with ${code}`));
      try {
        resolve(JSON.parse(output));
      } catch {
        reject(new Error(`the load generator printed no result: ${output.slice(0, 500)}`));
      }
    });
  });
}

async function generate(spec: LoadSpec): Promise<PacedLoadResult | SaturationResult> {
  if (spec.mode === 'paced') return pacedLoad(spec);
  const result = await autocannon({ url: spec.url, method: 'POST', connections: spec.connections, duration: spec.seconds, headers: spec.headers, body: spec.body });
  const { p50, p90, p99, max } = result.latency;
  return { ok: result['2xx'], non2xx: result.non2xx, latencyMs: { p50, p90, p99, max } };
}

async function readStdin(): Promise<string> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  return input;
}

if (require.main === module) {
  readStdin()
    .then((input) => generate(JSON.parse(input) as LoadSpec))
    .then(
      (result) => process.stdout.write(JSON.stringify(result)),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
}
