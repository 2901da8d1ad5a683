import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The decided A/B splits: the first decision for a split is the one that stands (the primary key arbitrates between
 * instances deciding at once), and the record published is read back from here, so publishing it again after a crash
 * publishes the same record.
 */
export class CreateSplitWinners1796400000000 implements MigrationInterface {
  name = 'CreateSplitWinners1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE split_winners (
        key        text        PRIMARY KEY,
        record     jsonb       NOT NULL,
        decided_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE split_winners');
  }
}
