import { DataSource, EntitySchema, MixedList } from 'typeorm';
import type { Pool, PoolClient } from 'pg';

export interface DatabaseOptions {
  url: string;
  /** Each service owns one PostgreSQL schema; no service reads another's tables. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own parameter type
  entities?: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own parameter type
  migrations: MixedList<Function | string>;
  poolSize?: number;
  /** Server-side limits of every connection of the pool; DATABASE_LIMITS below unless given. */
  limits?: DatabaseLimits;
}

/** PostgreSQL settings each pooled connection starts with, in milliseconds; 0 means none. */
export interface DatabaseLimits {
  /** statement_timeout: no statement of the hot path takes this long unless something is stuck. */
  statementMs: number;
  /** lock_timeout: a row or table lock held elsewhere (an operator's open psql transaction) fails the wait. */
  lockMs: number;
  /**
   * idle_in_transaction_session_timeout: ends a session whose client went quiet inside a transaction — a host that
   * died mid-transaction, whose locks PostgreSQL would otherwise hold until its TCP keepalive gives up (~2 h).
   * Longer than a broker outage usually lasts: dispatch's outbox relay holds its transaction while the broker
   * acknowledges, and a relay transaction ended this way is published again (a duplicate outcome, nothing lost).
   */
  idleInTransactionMs: number;
}

/**
 * Without limits, one stuck statement or lock wait blocks whatever awaits it for good (dispatch's state writes, a
 * state store's tick) while every health probe, on another connection, still answers. A statement that hits one fails
 * with SQLSTATE 57014, 55P03 or 25P03, which the consumer treats as an outage and retries.
 */
export const DATABASE_LIMITS: DatabaseLimits = { statementMs: 60_000, lockMs: 30_000, idleInTransactionMs: 300_000 };

/** Migrations build indexes over whole tables and may take long on a large one: they run without limits (as bulk loads may). */
export const NO_LIMITS: DatabaseLimits = { statementMs: 0, lockMs: 0, idleInTransactionMs: 0 };

/** A TypeORM data source whose schema comes from migrations only; synchronize stays off everywhere. */
export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities ?? [],
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    // Raw SQL of the hot path (plain pg, batched) and migrations both land in the service's schema.
    extra: {
      max: options.poolSize ?? 10,
      application_name: `kairos-${options.schema}`,
      options: `-c search_path="${options.schema}" ${limitSettings(options.limits ?? DATABASE_LIMITS)}`,
      // A server that vanished without closing the connection (host lost, network partition) is noticed by TCP
      // keepalive after ~10 s idle plus the kernel's probes, instead of never. The connect limit also bounds the wait
      // for a free connection of a full pool (node-postgres counts both): a pool saturated for 15 s fails the caller
      // with "timeout exceeded when trying to connect", which the consumers wait out like an outage.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 15_000,
    },
  });
}

function limitSettings(limits: DatabaseLimits): string {
  return `-c statement_timeout=${limits.statementMs} -c lock_timeout=${limits.lockMs} -c idle_in_transaction_session_timeout=${limits.idleInTransactionMs}`;
}

const ignoreError = (): void => undefined;

/**
 * Applies pending migrations (on a connection of their own, without limits), then connects the service's pool. The
 * schema is created first because TypeORM keeps its migrations table inside it. Returns the names of the migrations
 * applied now (empty when up to date). Replicas starting together take turns: the migrating connection holds an
 * advisory lock named after the schema, so the second finds the first's migrations applied instead of running them
 * again beside it (a CREATE TABLE failing with "already exists", or a data migration applied twice).
 */
export async function connectAndMigrate(options: DatabaseOptions): Promise<{ dataSource: DataSource; applied: string[] }> {
  const migrator = createDataSource({ ...options, poolSize: 1, limits: NO_LIMITS });
  await migrator.initialize();
  let applied: string[];
  try {
    // One connection (poolSize 1): the session lock is held by the connection the migrations run on.
    await migrator.query('SELECT pg_advisory_lock(hashtext($1))', [`kairos-migrations:${options.schema}`]);
    await migrator.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    applied = (await migrator.runMigrations({ transaction: 'each' })).map((migration) => migration.name);
    await migrator.query('SELECT pg_advisory_unlock(hashtext($1))', [`kairos-migrations:${options.schema}`]);
  } finally {
    await migrator.destroy();
  }
  const dataSource = createDataSource(options);
  await dataSource.initialize();
  // A connection checked out of the pool (a transaction waiting for the broker) whose server goes away emits 'error'
  // with no query to reject; unheard, that event kills the process. The holder learns it from its next query instead,
  // which fails as an outage and is waited out.
  // Attached at every checkout: the connections initialize() opened came before any 'connect' listener could hear them
  // (one of them crashed segmentation in a PostgreSQL-outage test).
  (dataSource.driver as unknown as { master: Pool }).master.on('acquire', (client: PoolClient) => {
    if (!client.listeners('error').includes(ignoreError)) client.on('error', ignoreError);
  });
  return { dataSource, applied };
}
