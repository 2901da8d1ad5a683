import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An erasure locks and rewrites every delivery of the erased profiles (apply-erasures): without an index on
 * profile_id that is a scan of a table that only grows, which would one day outlast the connections' statement limit
 * and hold the erasure back for good.
 */
export class IndexDeliveriesByProfile1795900000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX deliveries_profile ON deliveries (profile_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX deliveries_profile');
  }
}
