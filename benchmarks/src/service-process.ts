import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { stopChild, waitUntilHealthy } from '@kairos/local-stack';

const ROOT = join(__dirname, '..', '..');

export interface ServiceProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts services/<name> as a process of its own (as it runs in production) and waits until it reports ready. */
export async function startServiceProcess(name: string, env: Record<string, string>, healthPort: number, label = `the ${name} service`): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'services', name, 'src', 'main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    // The benchmark broker is a single node, unless the environment says otherwise: one copy of each partition.
    env: { KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '1', ...process.env, ...env, HEALTH_PORT: String(healthPort), LOG_LEVEL: 'warn' },
  });
  const service = { child, stop: () => stopChild(child, 30_000) };
  try {
    await waitUntilHealthy(label, child, healthPort);
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}
