import { outageReason } from '@kairos/kafka';
import { testStack, uniqueName } from '@kairos/testing';
import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { connectAndMigrate } from './data-source';

/**
 * Every pooled connection starts with server-side limits, so a stuck statement or a lock held elsewhere fails (as an
 * outage the consumer waits out) instead of blocking its caller for good; migrations run without them.
 */
describe('the data source against the real PostgreSQL', () => {
  const { databaseUrl } = testStack();
  const sources: DataSource[] = [];
  afterEach(async () => {
    for (const dataSource of sources.splice(0)) {
      await dataSource.query(`DROP SCHEMA "${dataSource.driver.schema}" CASCADE`);
      await dataSource.destroy();
    }
  });

  it('starts every pooled connection with the default limits, and runs migrations without them', async () => {
    const seenByMigration: Record<string, string> = {};
    class ReadSettings1700000000000 implements MigrationInterface {
      async up(runner: QueryRunner): Promise<void> {
        for (const name of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout']) {
          seenByMigration[name] = ((await runner.query(`SHOW ${name}`)) as Array<Record<string, string>>)[0][name];
        }
      }
      async down(): Promise<void> {
        // nothing to undo: the migration only reads
      }
    }
    const { dataSource, applied } = await connectAndMigrate({ url: databaseUrl, schema: uniqueName('limits'), migrations: [ReadSettings1700000000000], poolSize: 2 });
    sources.push(dataSource);
    expect(applied).toEqual(['ReadSettings1700000000000']);
    expect(seenByMigration).toEqual({ statement_timeout: '0', lock_timeout: '0', idle_in_transaction_session_timeout: '0' });
    const settings = await dataSource.query(`SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock, current_setting('idle_in_transaction_session_timeout') AS idle`);
    expect(settings).toEqual([{ statement: '1min', lock: '30s', idle: '5min' }]);
  });

  it('two replicas starting at once take turns: each migration runs once, and both start', async () => {
    const schema = uniqueName('together');
    let runs = 0;
    class CreateThings1700000000000 implements MigrationInterface {
      async up(runner: QueryRunner): Promise<void> {
        runs += 1;
        await runner.query('CREATE TABLE things (id int PRIMARY KEY)');
        // Long enough for the other replica to reach its migrations meanwhile.
        await runner.query('SELECT pg_sleep(0.5)');
      }
      async down(runner: QueryRunner): Promise<void> {
        await runner.query('DROP TABLE things');
      }
    }
    const [first, second] = await Promise.all([0, 1].map(() => connectAndMigrate({ url: databaseUrl, schema, migrations: [CreateThings1700000000000], poolSize: 1 })));
    sources.push(first.dataSource);
    await second.dataSource.destroy();
    expect(runs).toBe(1);
    expect([...first.applied, ...second.applied]).toEqual(['CreateThings1700000000000']);
  });

  it('fails a write waiting for a lock held elsewhere after the lock limit, as an outage, and writes once it is free', async () => {
    const { dataSource } = await connectAndMigrate({ url: databaseUrl, schema: uniqueName('locks'), migrations: [], poolSize: 1, limits: { statementMs: 60_000, lockMs: 500, idleInTransactionMs: 60_000 } });
    sources.push(dataSource);
    await dataSource.query('CREATE TABLE items (id int PRIMARY KEY, amount int NOT NULL)');
    await dataSource.query('INSERT INTO items VALUES (1, 5)');
    // An operator's psql session with an open transaction holding the row.
    const operator = new Client({ connectionString: databaseUrl });
    await operator.connect();
    try {
      await operator.query('BEGIN');
      await operator.query(`SELECT * FROM "${dataSource.driver.schema}".items WHERE id = 1 FOR UPDATE`);
      const failure = await dataSource.query('UPDATE items SET amount = 6 WHERE id = 1').then(() => undefined, (error: unknown) => error);
      expect(failure).toMatchObject({ driverError: { code: '55P03', message: 'canceling statement due to lock timeout' } });
      expect(outageReason(failure)).toBe('database unavailable (SQLSTATE 55P03): canceling statement due to lock timeout');
      await operator.query('ROLLBACK');
    } finally {
      await operator.end();
    }
    await dataSource.query('UPDATE items SET amount = 6 WHERE id = 1');
    expect(await dataSource.query('SELECT amount FROM items')).toEqual([{ amount: 6 }]);
  });

  it('ends a statement that runs past the statement limit', async () => {
    const { dataSource } = await connectAndMigrate({ url: databaseUrl, schema: uniqueName('slow'), migrations: [], poolSize: 1, limits: { statementMs: 300, lockMs: 0, idleInTransactionMs: 0 } });
    sources.push(dataSource);
    const failure = await dataSource.query('SELECT pg_sleep(30)').then(() => undefined, (error: unknown) => error);
    expect(failure).toMatchObject({ driverError: { code: '57014', message: 'canceling statement due to statement timeout' } });
    expect(outageReason(failure)).toBe('database unavailable (SQLSTATE 57014): canceling statement due to statement timeout');
  });
});
