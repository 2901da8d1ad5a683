import { MigrationInterface, QueryRunner } from 'typeorm';
import { MARKER_EXPIRY_TIMER } from './markers';

/**
 * Markers written before they expired (entries with a top-level `redirect` or `erased`, the shapes both stateful stages
 * write through `putMarker`) get their expiry timer, 30 days from the upgrade: without it they would stay forever.
 */
export class ExpireExistingMarkers1796500000000 implements MigrationInterface {
  name = 'ExpireExistingMarkers1796500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      `INSERT INTO state_timers (store, key, name, partition, due_at_ms)
       SELECT store, key, $1, partition, (extract(epoch FROM now()) * 1000)::bigint + $2
       FROM state_entries WHERE value ? 'redirect' OR value ? 'erased'
       ON CONFLICT (store, key, name) DO NOTHING`,
      [MARKER_EXPIRY_TIMER, 30 * 24 * 60 * 60 * 1000],
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DELETE FROM state_timers WHERE name = $1', [MARKER_EXPIRY_TIMER]);
  }
}
