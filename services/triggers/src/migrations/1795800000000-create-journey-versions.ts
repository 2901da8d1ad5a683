import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every journey version triggers has seen in force. The definitions topic is compacted to the latest version, but a
 * running instance keeps the version it started with — across restarts too — so the bodies are kept here.
 */
export class CreateJourneyVersions1795800000000 implements MigrationInterface {
  name = 'CreateJourneyVersions1795800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE journey_versions (
        journey_id text        NOT NULL,
        version    integer     NOT NULL,
        body       jsonb       NOT NULL,
        seen_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (journey_id, version)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE journey_versions');
  }
}
