import { MigrationInterface, QueryRunner } from 'typeorm';
import { MARKER_EXPIRY_TIMER } from './markers';

const DAY = 24 * 60 * 60 * 1000;

/**
 * Redirects written before they expired (entries with a top-level `redirect`, the shape both stateful stages write
 * through `putRedirect`) get their expiry timer: 60 days after the upgrade, spread over the 30 days after that by a
 * hash of the key, so that a partition does not meet them all in one round. Reads every state row once (a sequential
 * scan of state_entries at start-up).
 */
export class ExpireExistingRedirects1796500000000 implements MigrationInterface {
  name = 'ExpireExistingRedirects1796500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      `INSERT INTO state_timers (store, key, name, partition, due_at_ms)
       SELECT store, key, $1, partition, (extract(epoch FROM now()) * 1000)::bigint + $2 + (hashtext(key)::bigint & 2147483647) % $3
       FROM state_entries WHERE value ? 'redirect'
       ON CONFLICT (store, key, name) DO NOTHING`,
      [MARKER_EXPIRY_TIMER, 60 * DAY, 30 * DAY],
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DELETE FROM state_timers WHERE name = $1', [MARKER_EXPIRY_TIMER]);
  }
}
