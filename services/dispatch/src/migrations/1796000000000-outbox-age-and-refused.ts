import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox relay publishes pages in order, so one row the broker always refuses (a dead letter over the broker's
 * message.max.bytes) held every later outcome back for good. Such a row is now set aside in `outbox_refused`, with the
 * broker's answer, in the transaction that deletes it from the outbox; `created_at` lets the metrics say how long the
 * oldest row has waited.
 */
export class OutboxAgeAndRefused1796000000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    // now() is stable, so PostgreSQL adds the column without rewriting the table; rows already waiting get this time.
    await queryRunner.query('ALTER TABLE outbox ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()');
    await queryRunner.query(`
      CREATE TABLE outbox_refused (
        id          bigint      PRIMARY KEY,
        topic       text        NOT NULL,
        key         text,
        value       text        NOT NULL,
        headers     jsonb,
        created_at  timestamptz NOT NULL,
        error       text        NOT NULL,
        refused_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE outbox_refused');
    await queryRunner.query('ALTER TABLE outbox DROP COLUMN created_at');
  }
}
