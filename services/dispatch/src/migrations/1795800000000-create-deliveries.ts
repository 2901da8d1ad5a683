import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dispatch's tables:
 * - deliveries: one row per dispatch id (the primary key is what makes a redelivered request change nothing), with the
 *   state machine's state (@kairos/dispatch-core), the composed mail a retry sends again byte for byte, and the
 *   claim: `due_at` is when the row next needs work (now, the retry time, or the end of a claim's lease) and
 *   `claimed_by` which claim holds it (`<instance>/<claim number>`).
 * - suppressions: profiles and addresses dispatch will not mail (its own unsubscribes, bounces, complaints, erasures).
 * - soft_bounces: soft bounces per address, until the limit suppresses it.
 * - consents: consent dispatch recorded itself (double opt-in confirmations, resubscribes) with their proof.
 * - outbox: records to publish (outcomes, engagement events, dead letters), written in the transaction of the state
 *   change that caused them and published from here, so a crash between the two loses nothing.
 */
export class CreateDeliveries1795800000000 implements MigrationInterface {
  name = 'CreateDeliveries1795800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE deliveries (
        dispatch_id  text        PRIMARY KEY,
        profile_id   text        NOT NULL,
        channel      text        NOT NULL,
        status       text        NOT NULL,
        state        jsonb       NOT NULL,
        request      jsonb       NOT NULL,
        recipient    text,
        mail         jsonb,
        links        jsonb,
        due_at       timestamptz,
        claimed_by   text,
        received_at  timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query("CREATE INDEX deliveries_due ON deliveries (due_at) WHERE status IN ('received', 'rendering', 'sending', 'retrying')");
    await queryRunner.query('CREATE INDEX deliveries_recipient ON deliveries (recipient, received_at)');
    await queryRunner.query(`
      CREATE TABLE suppressions (
        subject  text        NOT NULL,
        scope    text        NOT NULL,
        reason   text        NOT NULL,
        at       timestamptz NOT NULL,
        proof    jsonb,
        PRIMARY KEY (subject, scope)
      )`);
    await queryRunner.query(`
      CREATE TABLE soft_bounces (
        address  text        PRIMARY KEY,
        count    integer     NOT NULL,
        last_at  timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE consents (
        profile_id text        NOT NULL,
        purpose    text        NOT NULL,
        status     text        NOT NULL,
        at         timestamptz NOT NULL,
        proof      jsonb       NOT NULL,
        PRIMARY KEY (profile_id, purpose)
      )`);
    await queryRunner.query(`
      CREATE TABLE outbox (
        id       bigserial PRIMARY KEY,
        topic    text      NOT NULL,
        key      text,
        value    text      NOT NULL,
        headers  jsonb
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['outbox', 'consents', 'soft_bounces', 'suppressions', 'deliveries']) await queryRunner.query(`DROP TABLE ${table}`);
  }
}
