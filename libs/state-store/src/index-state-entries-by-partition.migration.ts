import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stored keys of one partition in key order (StateStore.keysAfter): a scan over every stored profile, page by page
 * (a backfill of a new segment), reads only its partition's rows instead of every key of the store.
 */
export class IndexStateEntriesByPartition1796000000000 implements MigrationInterface {
  name = 'IndexStateEntriesByPartition1796000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX state_entries_by_partition_key ON state_entries (store, partition, key)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX state_entries_by_partition_key');
  }
}
