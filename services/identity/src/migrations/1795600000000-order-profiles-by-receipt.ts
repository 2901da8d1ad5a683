import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Profiles are ordered by when Kairos received their founding event, no longer by its event time (an import of
 * last year's orders must not re-found a customer). Profiles founded before this migration did not record it; their
 * event time is the closest value there is.
 */
export class OrderProfilesByReceipt1795600000000 implements MigrationInterface {
  name = 'OrderProfilesByReceipt1795600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE profiles ADD COLUMN origin_received_at_ms bigint');
    await queryRunner.query('UPDATE profiles SET origin_received_at_ms = origin_at_ms');
    await queryRunner.query('ALTER TABLE profiles ALTER COLUMN origin_received_at_ms SET NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE profiles DROP COLUMN origin_received_at_ms');
  }
}
