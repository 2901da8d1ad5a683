import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tables of every state store of a service (one schema per service; `store` names the store inside it).
 * A service that keeps state per partition lists this migration with its own.
 *
 * - state_partitions: per partition, the owner's fencing epoch, the input offsets the state reflects and its stream time.
 * - state_entries: the state per key (a profile), with the partition that owns it.
 * - state_timers: pending timers per key and name, found by partition and due time.
 * Keys and names use the C collation: byte order is the order JavaScript compares them in, so timers read page by page
 * from the index and timers set in memory agree on which fires first.
 */
export class CreateStateStore1795600000000 implements MigrationInterface {
  name = 'CreateStateStore1795600000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE state_partitions (
        store text NOT NULL,
        partition int NOT NULL,
        epoch bigint NOT NULL DEFAULT 1,
        offsets jsonb NOT NULL DEFAULT '{}',
        stream_time_ms bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (store, partition)
      )`);
    await runner.query(`
      CREATE TABLE state_entries (
        store text NOT NULL,
        key text COLLATE "C" NOT NULL,
        partition int NOT NULL,
        value jsonb NOT NULL,
        PRIMARY KEY (store, key)
      )`);
    await runner.query('CREATE INDEX state_entries_by_partition ON state_entries (store, partition)');
    await runner.query(`
      CREATE TABLE state_timers (
        store text NOT NULL,
        key text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        partition int NOT NULL,
        due_at_ms bigint NOT NULL,
        payload jsonb,
        PRIMARY KEY (store, key, name)
      )`);
    await runner.query('CREATE INDEX state_timers_due ON state_timers (store, partition, due_at_ms, key, name)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE state_timers');
    await runner.query('DROP TABLE state_entries');
    await runner.query('DROP TABLE state_partitions');
  }
}
