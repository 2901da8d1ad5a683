import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { stopChild, waitUntilHealthy } from '@kairos/local-stack';

const ROOT = join(__dirname, '..', '..', '..');

export interface ServiceProcess {
  child: ChildProcess;
  /** SIGTERM: the graceful stop an orchestrator asks for. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, with no chance to finish a batch or commit. */
  kill(): Promise<void>;
}

/**
 * KAIROS_CPU_PROFILE_DIR=dir: every service process started here writes a V8 CPU profile (.cpuprofile, open it in
 * Chrome's DevTools or speedscope) into dir/<service> when it stops gracefully (a SIGKILL leaves none): how a
 * benchmark's stage is profiled.
 */
function profiling(name: string): string[] {
  const dir = process.env['KAIROS_CPU_PROFILE_DIR'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, name)}`] : [];
}

/** Starts services/<name> as a process of its own (as it runs in production) and waits until it reports ready. */
export async function startServiceProcess(name: string, env: Record<string, string>, healthPort: number, label = `the ${name} service`): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...profiling(name), '-r', '@swc-node/register', join(ROOT, 'services', name, 'src', 'main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    // A local broker is a single node unless the environment says otherwise: one copy of each partition. A stop that
    // overruns says what it waited for before stopChild's 30 s run out.
    env: { KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '1', LOG_LEVEL: 'warn', STOP_TIMEOUT_SECONDS: '25', ...process.env, ...env, HEALTH_PORT: String(healthPort) },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: ServiceProcess = {
    child,
    stop: () => stopChild(child, 30_000),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await waitUntilHealthy(label, child, healthPort);
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}
