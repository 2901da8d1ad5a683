import { addressSubject, checkSend, SuppressionEntry } from '@kairos/dispatch-core';
import { connectAndMigrate } from '@kairos/persistence';
import { testStack, uniqueName } from '@kairos/testing';
import { dispatchMigrations } from './index';

/** An upgrade keeps every suppression and soft-bounce count, under the digest the service now looks them up by. */
describe('the migration that hashes suppressed addresses', () => {
  const { databaseUrl } = testStack();

  it('rewrites address subjects and soft-bounce addresses as SHA-256 digests; profile subjects and the suppressions themselves stay', async () => {
    const schema = uniqueName('dispatch_upgrade').replace(/-/g, '_');
    const before = dispatchMigrations.filter((migration) => migration.name !== 'HashSuppressedAddresses1796600000000');
    const old = await connectAndMigrate({ url: databaseUrl, schema, migrations: before, poolSize: 1 });
    await old.dataSource.query(
      `INSERT INTO suppressions (subject, scope, reason, at, proof) VALUES
         ('address:anna@example.ch', 'all', 'hard-bounce', '2026-11-01T00:00:00Z', '{"diagnostic": "550 user unknown"}'),
         ('address:anna@example.ch', 'marketing', 'complaint', '2026-11-02T00:00:00Z', NULL),
         ('address:jürg@example.ch', 'marketing', 'complaint', '2026-11-03T00:00:00Z', NULL),
         ('profile:p1', 'marketing', 'unsubscribed', '2026-11-04T00:00:00Z', NULL)`,
    );
    await old.dataSource.query(`INSERT INTO soft_bounces (address, count, last_at) VALUES ('beat@example.ch', 2, '2026-11-05T00:00:00Z')`);
    await old.dataSource.destroy();

    const upgraded = await connectAndMigrate({ url: databaseUrl, schema, migrations: dispatchMigrations, poolSize: 1 });
    try {
      expect(upgraded.applied).toEqual(['HashSuppressedAddresses1796600000000']);
      const rows = (await upgraded.dataSource.query('SELECT subject, scope, reason, at, proof FROM suppressions ORDER BY subject, scope')) as Array<{ subject: string; scope: SuppressionEntry['scope']; reason: SuppressionEntry['reason']; at: Date; proof: unknown }>;
      expect(rows.map(({ subject, scope, reason, proof }) => [subject, scope, reason, proof])).toEqual(
        [
          [addressSubject('anna@example.ch'), 'all', 'hard-bounce', { diagnostic: '550 user unknown' }],
          [addressSubject('anna@example.ch'), 'marketing', 'complaint', null],
          [addressSubject('jürg@example.ch'), 'marketing', 'complaint', null],
          ['profile:p1', 'marketing', 'unsubscribed', null],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1]))),
      );
      // The service's own check finds them under the address it is given.
      const entries = rows.map(({ subject, scope, reason, at }) => ({ subject, scope, reason, at: at.getTime() }));
      expect(checkSend({ channel: 'email', purpose: 'transactional', profileId: 'p2', address: 'Anna@Example.ch' }, entries)).toEqual({ allowed: false, reason: 'hard-bounce' });
      expect(await upgraded.dataSource.query('SELECT address, count FROM soft_bounces')).toEqual([{ address: addressSubject('beat@example.ch'), count: 2 }]);
    } finally {
      await upgraded.dataSource.destroy();
    }
  });
});
