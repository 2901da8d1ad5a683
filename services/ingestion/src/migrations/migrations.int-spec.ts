import { connectAndMigrate } from '@kairos/persistence';
import { testStack, uniqueName } from '@kairos/testing';
import { ingestionMigrations } from './index';

describe('ingestion migrations against the real PostgreSQL', () => {
  it('create the schema and its tables once, and are a no-op the second time', async () => {
    const options = { url: testStack().databaseUrl, schema: uniqueName('ingestion').replace('-', '_'), migrations: ingestionMigrations };
    const first = await connectAndMigrate(options);
    try {
      expect(first.applied).toEqual(['CreateSeenMessages1795380000000']);
      const tables = await first.dataSource.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [options.schema]);
      expect(tables.map((row: { table_name: string }) => row.table_name)).toEqual(['migrations', 'seen_messages']);
      await first.dataSource.query("INSERT INTO seen_messages (source_id, message_id, raw_partition, raw_offset, raw_index) VALUES ('web', 'm-1', 0, 0, 0)");
      await expect(first.dataSource.query("INSERT INTO seen_messages (source_id, message_id, raw_partition, raw_offset, raw_index) VALUES ('web', 'm-1', 0, 0, 0)")).rejects.toThrow(/duplicate key/);
    } finally {
      await first.dataSource.destroy();
    }
    const second = await connectAndMigrate(options);
    await second.dataSource.destroy();
    expect(second.applied).toEqual([]);
  });
});
