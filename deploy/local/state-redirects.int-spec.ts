import { randomUUID } from 'node:crypto';
import { ProfileErasure, ProfileMerge, ProfileUpdateRecord, ResolvedEvent, Topics } from '@kairos/contracts';
import { connectKafka, RecordProducer } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { ServiceProcess, serviceTestEnv, startServiceProcess, testStack } from '@kairos/testing';
import { Client } from 'pg';

/**
 * The redirect a stateful stage keeps in place of a merged-away profile is removed by a durable timer once it has
 * served (STATE_MARKERS_KEPT_SECONDS; 60 days by default), in segmentation and in triggers: redirects used to stay
 * forever, a row per merge. An erased profile's tombstone stays. Real broker, real PostgreSQL, the services as
 * processes, a lifetime of 10 s.
 */
describe('redirects of merged-away profiles, tombstones of erased ones', () => {
  const { kafkaBrokers, databaseUrl } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'state-redirects-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const database = new Client({ connectionString: databaseUrl });
  const run = randomUUID().slice(0, 8);
  const services: ServiceProcess[] = [];

  async function start(name: 'segmentation' | 'triggers'): Promise<void> {
    const env = await serviceTestEnv({ DATABASE_SCHEMA: `${name}_markers_${run}`, KAFKA_GROUP_ID: `${name}-markers-${run}`, STATE_MARKERS_KEPT_SECONDS: '10' });
    const defined = Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
    services.push(await startServiceProcess(name, Object.fromEntries(defined), await freePort()));
  }

  /** The entry of `key` in a stage's store, polled until `holds` says yes (or a minute passes). */
  async function entryUntil(schema: string, store: string, key: string, what: string, holds: (entry: Record<string, unknown> | undefined) => boolean): Promise<Record<string, unknown> | undefined> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { rows } = await database.query<{ value: Record<string, unknown> }>(`SELECT value FROM "${schema}".state_entries WHERE store = $1 AND key = $2`, [store, key]);
      if (holds(rows[0]?.value)) return rows[0]?.value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the entry is ${JSON.stringify(rows[0]?.value)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    await database.connect();
    await producer.connect();
    await start('segmentation');
    await start('triggers');
  }, 120_000);

  afterAll(async () => {
    for (const service of services) await service.stop();
    await producer.disconnect();
    await database.end();
  });

  it('segmentation: the redirect of a merged-away profile goes once it served; the tombstone of an erased one stays', async () => {
    const schema = `segmentation_markers_${run}`;
    const [loser, survivor, erased] = [randomUUID(), randomUUID(), randomUUID()];
    const now = new Date().toISOString();
    const order = (profileId: string): ResolvedEvent => ({
      type: 'track',
      event: 'Order Completed',
      messageId: `${run}-${profileId}`,
      sourceId: 'test',
      receivedAt: now,
      timestamp: now,
      identifiers: { userId: `user-${profileId}` },
      profileId,
      resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [] },
    });
    await producer.send(Topics.resolved.name, [loser, survivor, erased].map((profileId) => ({ key: profileId, value: JSON.stringify(order(profileId)) })));
    await entryUntil(schema, 'profiles', loser, "the loser's profile", (entry) => entry !== undefined && 'profile' in entry);
    await entryUntil(schema, 'profiles', erased, 'the profile to erase', (entry) => entry !== undefined && 'profile' in entry);
    const merge: ProfileMerge = { loserId: loser, survivorId: survivor, mergedAt: now, messageId: `${run}-merge`, reason: 'shared_identifier', identifiers: [] };
    const erasure: ProfileErasure = { requestId: `${run}-erasure`, profileIds: [erased], identifierCount: 1, erasedAt: now };
    await producer.send(Topics.merges.name, [{ key: loser, value: JSON.stringify(merge) }]);
    await producer.send(Topics.erasures.name, [{ key: erased, value: JSON.stringify(erasure) }]);
    expect(await entryUntil(schema, 'profiles', loser, 'the redirect', (entry) => entry !== undefined && 'redirect' in entry)).toMatchObject({ redirect: survivor });
    expect(await entryUntil(schema, 'profiles', erased, 'the tombstone', (entry) => entry !== undefined && 'erased' in entry)).toMatchObject({ erased: erasure.requestId });
    await entryUntil(schema, 'profiles', loser, 'the redirect to go', (entry) => entry === undefined);
    // Written at the same moment, with no timer: the tombstone and the survivor's state stay.
    expect(await entryUntil(schema, 'profiles', erased, 'the tombstone', () => true)).toMatchObject({ erased: erasure.requestId });
    expect(await entryUntil(schema, 'profiles', survivor, 'the survivor', () => true)).toMatchObject({ profile: { profileId: survivor } });
    const { rows } = await database.query(`SELECT key, name FROM "${schema}".state_timers WHERE key = ANY($1::text[])`, [[loser, erased]]);
    expect(rows).toEqual([]);
  });

  it('triggers: the redirect of a merged-away profile goes once it served; the tombstone of an erased one stays', async () => {
    const schema = `triggers_markers_${run}`;
    const [loser, survivor, erased] = [randomUUID(), randomUUID(), randomUUID()];
    const at = new Date().toISOString();
    const updates: ProfileUpdateRecord[] = [
      { updateId: `${loser}/merge/${loser}`, profileId: loser, at, input: { kind: 'merge', loserId: loser, survivorId: survivor }, segments: {}, changes: [] },
      { updateId: `${erased}/erasure`, profileId: erased, at, input: { kind: 'erasure' }, segments: {}, changes: [] },
    ];
    await producer.send(Topics.profileUpdates.name, updates.map((update) => ({ key: update.profileId, value: JSON.stringify(update) })));
    expect(await entryUntil(schema, 'journeys', loser, 'the redirect', (entry) => entry !== undefined && 'redirect' in entry)).toMatchObject({ redirect: survivor });
    expect(await entryUntil(schema, 'journeys', erased, 'the tombstone', (entry) => entry !== undefined && 'erased' in entry)).toMatchObject({ erased: true });
    await entryUntil(schema, 'journeys', loser, 'the redirect to go', (entry) => entry === undefined);
    expect(await entryUntil(schema, 'journeys', erased, 'the tombstone', () => true)).toMatchObject({ erased: true });
  });
});
