import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * messageIds seen per source, for de-duplication over at least 24 hours that survives restarts and rebalances.
 * Rows older than the window are pruned by first_seen_at, so the table stays bounded.
 */
export class CreateSeenMessages1795380000000 implements MigrationInterface {
  name = 'CreateSeenMessages1795380000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE seen_messages (
        source_id     text        NOT NULL,
        message_id    text        NOT NULL,
        raw_partition integer     NOT NULL,
        raw_offset    bigint      NOT NULL,
        raw_index     integer     NOT NULL,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source_id, message_id)
      )`);
    await queryRunner.query('CREATE INDEX seen_messages_first_seen_at ON seen_messages (first_seen_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE seen_messages');
  }
}
