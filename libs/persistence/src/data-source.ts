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
}

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
    extra: { max: options.poolSize ?? 10, application_name: `kairos-${options.schema}`, options: `-c search_path="${options.schema}"` },
  });
}

const ignoreError = (): void => undefined;

/**
 * Connects and applies pending migrations. The schema is created first because TypeORM keeps its migrations table
 * inside it. Returns the names of the migrations applied now (empty when up to date).
 */
export async function connectAndMigrate(options: DatabaseOptions): Promise<{ dataSource: DataSource; applied: string[] }> {
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
  try {
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return { dataSource, applied: applied.map((migration) => migration.name) };
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
}
