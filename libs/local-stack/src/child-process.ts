import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Runs a command to completion, rejecting with its captured output when it fails. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => reject(new Error(`${command} could not be started: ${error.message}`)));
    child.on('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

/** Stops a child: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Stops a process that an earlier stack left behind (killed with SIGKILL, or with its terminal) and whose pid it
 * recorded in a file: `signal` first, SIGKILL if it is still there after `graceMs`. Where /proc exists, a pid that now
 * belongs to another program is left alone.
 */
export async function stopStale(pid: number, command: string, signal: NodeJS.Signals, graceMs: number, log: (line: string) => void): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 0 || !running(pid)) return;
  const comm = `/proc/${pid}/comm`;
  if (existsSync(comm) && readFileSync(comm, 'utf8').trim() !== command) return;
  log(`stopping ${command} (pid ${pid}), left running by an earlier stack`);
  process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (running(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether the pid is a live process; an exited one its parent has not reaped yet (a zombie) is not. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !existsSync(stat) || readFileSync(stat, 'utf8').split(') ').pop()?.[0] !== 'Z';
}

/** Polls a child service's readiness endpoint until it answers 200; fails if the child exits first or time runs out. */
export async function waitUntilHealthy(name: string, child: ChildProcess, healthPort: number, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} during start-up`);
    const ready = await fetch(`http://127.0.0.1:${healthPort}/health/ready`).then((response) => response.ok, () => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
