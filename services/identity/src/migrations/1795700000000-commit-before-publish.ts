import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Identity commits before it publishes, so the database must hold what it publishes:
 * - applied_batches: per batch of an input partition, the offsets it reflects and the output of each record
 *   (profile id and resolution, merges, or why it was refused), so a redelivered record is re-published as it was
 *   first published instead of being resolved again;
 * - graph_changes: the change feed — per graph_version, the identifier keys and profiles a write touched
 *   (identifiers NULL: everything, after an erasure), so another instance evicts only those from its cache;
 * - erasures: the suppressions each erasure published (hashes), and when its records were acknowledged.
 */
export class CommitBeforePublish1795700000000 implements MigrationInterface {
  name = 'CommitBeforePublish1795700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE applied_batches (
        topic        text        NOT NULL,
        partition    integer     NOT NULL,
        first_offset bigint      NOT NULL,
        last_offset  bigint      NOT NULL,
        outputs      json        NOT NULL,
        applied_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (topic, partition, last_offset)
      )`);
    await queryRunner.query('CREATE TABLE graph_changes (version bigint PRIMARY KEY, identifiers text[], profiles uuid[] NOT NULL)');
    await queryRunner.query(`ALTER TABLE erasures ADD COLUMN suppressions json NOT NULL DEFAULT '[]', ADD COLUMN published_at timestamptz`);
    // Erasures before this migration were published before they committed.
    await queryRunner.query('UPDATE erasures SET published_at = erased_at');
    await queryRunner.query('CREATE INDEX erasures_unpublished ON erasures (erased_at) WHERE published_at IS NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX erasures_unpublished');
    await queryRunner.query('ALTER TABLE erasures DROP COLUMN published_at, DROP COLUMN suppressions');
    await queryRunner.query('DROP TABLE graph_changes');
    await queryRunner.query('DROP TABLE applied_batches');
  }
}
