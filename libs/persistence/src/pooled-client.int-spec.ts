import { testStack, uniqueName } from '@kairos/testing';
import { DataSource } from 'typeorm';
import { connectAndMigrate } from './data-source';
import { queryPrepared, withPooledClient } from './pooled-client';

/**
 * Prepared statements live on one server connection. When they go stale or vanish under it, the statement fails on
 * that connection every time it is used again; the pool must drop the connection so that the caller's retry (the
 * consumer treats these SQLSTATEs as an outage and retries) runs on a fresh one and succeeds.
 */
describe('prepared statements on pooled connections, against the real PostgreSQL', () => {
  const { databaseUrl } = testStack();
  let dataSource: DataSource;

  beforeEach(async () => {
    // One connection, so that "the next use" is certainly the connection that failed unless it was discarded.
    ({ dataSource } = await connectAndMigrate({ url: databaseUrl, schema: uniqueName('pooled'), migrations: [], poolSize: 1 }));
    await dataSource.query('CREATE TABLE items (id int PRIMARY KEY, amount int NOT NULL)');
    await dataSource.query('INSERT INTO items VALUES (1, 5)');
  });
  afterEach(async () => {
    await dataSource.query(`DROP SCHEMA "${dataSource.driver.schema}" CASCADE`);
    await dataSource.destroy();
  });

  const read = () => queryPrepared<{ amount: unknown }>(dataSource, 'SELECT * FROM items WHERE id = $1', [1]);

  it('answers again after a migration changed the result type under the prepared statement', async () => {
    expect(await read()).toEqual([{ id: 1, amount: 5 }]);
    await dataSource.query('ALTER TABLE items ALTER COLUMN amount TYPE text');

    await expect(read()).rejects.toMatchObject({ code: '0A000', message: 'cached plan must not change result type' });
    expect(await read()).toEqual([{ id: 1, amount: '5' }]);
  });

  it('answers again after the server forgot the prepared statements (a pooler running DISCARD ALL)', async () => {
    expect(await read()).toEqual([{ id: 1, amount: 5 }]);
    // node-postgres remembers it prepared the statement on this connection and sends only its name from now on.
    await withPooledClient(dataSource, (client) => client.query('DEALLOCATE ALL'));

    await expect(read()).rejects.toMatchObject({ code: '26000', message: expect.stringMatching(/^prepared statement "kairos_[0-9a-f]{16}" does not exist$/) });
    expect(await read()).toEqual([{ id: 1, amount: 5 }]);
  });

  it('keeps a connection whose statement failed for its own reasons', async () => {
    const backend = () => withPooledClient(dataSource, async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
    const before = await backend();

    await expect(queryPrepared(dataSource, 'INSERT INTO items VALUES ($1, $2)', [1, 6])).rejects.toMatchObject({ code: '23505' });
    expect(await backend()).toBe(before);
  });
});
