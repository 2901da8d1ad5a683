import { connectAndMigrate } from '@kairos/persistence';
import { testStack, uniqueName } from '@kairos/testing';
import { stateStoreMigrations } from './migrations';
import { MARKER_EXPIRY_TIMER } from './markers';

/** An upgrade gives the redirects written before they could expire their timer; other entries and timers stay as they are. */
describe('the migration that expires existing redirects', () => {
  const { databaseUrl } = testStack();

  it('sets a marker-expiry timer 60 to 90 days ahead for every redirect, and for nothing else (an erased marker stays)', async () => {
    const schema = uniqueName('redirects_upgrade').replace(/-/g, '_');
    const before = stateStoreMigrations.filter((migration) => migration.name !== 'ExpireExistingRedirects1796500000000');
    const old = await connectAndMigrate({ url: databaseUrl, schema, migrations: before, poolSize: 1 });
    await old.dataSource.query(
      `INSERT INTO state_entries (store, key, partition, value) VALUES
         ('profiles', 'loser', 0, '{"redirect": "survivor", "at": 1}'),
         ('profiles', 'gone', 1, '{"erased": "request-1", "at": 2}'),
         ('profiles', 'survivor', 1, '{"profile": {"profileId": "survivor"}}'),
         ('journeys', 'merged', 2, '{"redirect": "other", "at": 3}')`,
    );
    await old.dataSource.query(`INSERT INTO state_timers (store, key, name, partition, due_at_ms) VALUES ('profiles', 'survivor', 'segments', 1, 5)`);
    await old.dataSource.destroy();

    const upgraded = await connectAndMigrate({ url: databaseUrl, schema, migrations: stateStoreMigrations, poolSize: 1 });
    try {
      expect(upgraded.applied).toEqual(['ExpireExistingRedirects1796500000000']);
      const timers: Array<{ store: string; key: string; name: string; partition: number; due: string }> = await upgraded.dataSource.query('SELECT store, key, name, partition, due_at_ms AS due FROM state_timers ORDER BY store, key');
      const month = 30 * 24 * 3_600_000;
      expect(timers.map(({ store, key, name, partition }) => [store, key, name, partition])).toEqual([
        ['journeys', 'merged', MARKER_EXPIRY_TIMER, 2],
        ['profiles', 'loser', MARKER_EXPIRY_TIMER, 0],
        ['profiles', 'survivor', 'segments', 1],
      ]);
      for (const timer of timers.filter((candidate) => candidate.name === MARKER_EXPIRY_TIMER)) {
        expect(Number(timer.due)).toBeGreaterThan(Date.now() + 2 * month - 60_000);
        expect(Number(timer.due)).toBeLessThan(Date.now() + 3 * month);
      }
    } finally {
      await upgraded.dataSource.destroy();
    }
  });
});
