import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@kairos/local-stack';

const PORT_VARIABLES = [
  'KAFKA_PORT',
  'KAFKA_CONTROLLER_PORT',
  'POSTGRES_PORT',
  'SMTP_PORT',
  'SMTP_INBOX_PORT',
  'COLLECTOR_PORT',
  'IDENTITY_API_PORT',
  'DISPATCH_PORT',
  'INGESTION_HEALTH_PORT',
  'IDENTITY_HEALTH_PORT',
  'SEGMENTATION_HEALTH_PORT',
  'TRIGGERS_HEALTH_PORT',
  'DISPATCH_HEALTH_PORT',
];
const SERVICES = ['ingestion', 'identity', 'segmentation', 'triggers', 'dispatch'];

interface TerminalStack {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `npm run stack` as a terminal runs it: a process group of its own, which Ctrl-C signals as a whole. */
function startInTerminal(env: NodeJS.ProcessEnv): TerminalStack {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'stack.ts')], { cwd: join(__dirname, '..', '..'), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForOutput(stack: TerminalStack, text: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!stack.output().includes(text)) {
    if (stack.child.exitCode !== null) throw new Error(`the stack exited with ${stack.child.exitCode} before "${text}":\n${stack.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${stack.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The README's stack in a terminal: killed with its terminal (SIGKILL to the group), then started again and stopped
 * with Ctrl-C (SIGINT to the group). The broker and PostgreSQL run in groups of their own so that they outlive the
 * services on Ctrl-C; so a killed stack leaves them behind, and the next start must stop them rather than fail on
 * their ports.
 */
describe('the development stack in a terminal', () => {
  it('starts again after its terminal was killed, and Ctrl-C stops every service before PostgreSQL and the broker', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kairos-terminal-stack-'));
    const env: NodeJS.ProcessEnv = { ...process.env, KAIROS_DATA_DIR: dataDir, LOG_FORMAT: 'json', LOG_LEVEL: 'info' };
    // The harness's own stack is in the environment; this one starts its own.
    for (const variable of ['KAFKA_BROKERS', 'DATABASE_URL', 'SMTP_URL']) delete env[variable];
    for (const variable of PORT_VARIABLES) env[variable] = String(await freePort());
    const stacks: TerminalStack[] = [];
    try {
      const killed = startInTerminal(env);
      stacks.push(killed);
      await waitForOutput(killed, 'Kairos is up');
      process.kill(-killed.child.pid!, 'SIGKILL');
      await killed.exited;
      const leftPostgres = Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
      const leftBroker = Number(readFileSync(join(dataDir, 'kafka', 'kafka.pid'), 'utf8'));
      expect([alive(leftPostgres), alive(leftBroker)]).toEqual([true, true]);

      const restarted = startInTerminal(env);
      stacks.push(restarted);
      await waitForOutput(restarted, 'Kairos is up');
      expect(restarted.output()).toContain(`stopping postgres (pid ${leftPostgres}), left running by an earlier stack`);
      expect(restarted.output()).toContain(`stopping java (pid ${leftBroker}), left running by an earlier stack`);
      expect([alive(leftPostgres), alive(leftBroker)]).toEqual([false, false]);

      process.kill(-restarted.child.pid!, 'SIGINT');
      expect(await restarted.exited).toBe(0);
      const stopping = restarted.output().slice(restarted.output().indexOf('stopping…'));
      const stopped = SERVICES.filter((service) => new RegExp(`"service":"${service}","message":"stopped in \\d+ ms"`).test(stopping));
      expect(stopped).toEqual(SERVICES);
      // What PostgreSQL or the broker going away under a service that is still finishing its batch looks like.
      expect(stopping.split('\n').filter((line) => /terminating connection|shutting down|ECONNREFUSED|Error when calling eachBatch|not queryable/.test(line))).toEqual([]);
      expect(stopping.trimEnd().endsWith('stopped')).toBe(true);
      // A clean stop: PostgreSQL removed its lock file, the stack its broker's pid file.
      expect([existsSync(join(dataDir, 'postgres', 'postmaster.pid')), existsSync(join(dataDir, 'kafka', 'kafka.pid'))]).toEqual([false, false]);
    } finally {
      // Whatever a failed run left running: the stacks' groups, and the broker and PostgreSQL in groups of their own.
      const pidFiles = [join(dataDir, 'postgres', 'postmaster.pid'), join(dataDir, 'kafka', 'kafka.pid')];
      const left = pidFiles.filter((file) => existsSync(file)).map((file) => Number(readFileSync(file, 'utf8').split('\n')[0]));
      for (const pid of [...stacks.map((stack) => -stack.child.pid!), ...left]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await Promise.all(stacks.map((stack) => stack.exited));
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
