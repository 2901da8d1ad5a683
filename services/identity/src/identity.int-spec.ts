import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AcceptedEvent, ALL_TOPICS, deadLetterTopic, DeadLetterHeaders, ProfileErasure, ProfileMerge, ResolvedEvent, Topics } from '@kairos/contracts';
import { ConsumedRecord, connectKafka, ensureTopics, partitionCount, readTopicToEnd, RecordProducer } from '@kairos/kafka';
import { stopChild, waitUntilHealthy } from '@kairos/local-stack';
import { RunningService } from '@kairos/service-runtime';
import { readTopic, serviceTestEnv, testStack } from '@kairos/testing';
import { Client } from 'pg';
import { startIdentity } from './main';

const json = <T>(record: ConsumedRecord): T => JSON.parse(record.value!.toString()) as T;
const T0 = Date.parse('2026-03-02T08:00:00Z');

describe('identity against the real stack', () => {
  const { kafkaBrokers, databaseUrl } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'identity-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const database = new Client({ connectionString: databaseUrl });
  const run = randomUUID().slice(0, 8); // every identifier of this file carries it
  const started: RunningService[] = [];
  /** The erasure API of the first instance started on each schema. */
  const apiPorts = new Map<string, string>();
  let sequence = 0;

  /** An accepted event as the intake writes it; identifiers are given as the intake normalises them. */
  function accepted(identifiers: AcceptedEvent['identifiers'], minute: number, extra: Partial<AcceptedEvent> = {}): AcceptedEvent {
    sequence += 1;
    const at = new Date(T0 + minute * 60_000).toISOString();
    return {
      type: identifiers.userId ? 'identify' : 'page',
      messageId: `${run}-m${sequence}`,
      sourceId: 'test',
      receivedAt: at,
      timestamp: at,
      ...(identifiers.userId ? { userId: identifiers.userId } : {}),
      ...(identifiers.anonymousId ? { anonymousId: identifiers.anonymousId } : {}),
      ...(identifiers.email ? { traits: { email: identifiers.email } } : {}),
      identifiers,
      ...extra,
    };
  }
  const id = (name: string) => `${name}-${run}`;

  async function send(events: AcceptedEvent[], partition?: number): Promise<void> {
    await producer.send(
      Topics.accepted.name,
      events.map((event) => ({ key: event.identifiers.profileId ?? event.identifiers.userId ?? event.identifiers.anonymousId ?? event.messageId, value: JSON.stringify(event), ...(partition === undefined ? {} : { partition }) })),
    );
  }

  /** Sends events in order on partition 0 and returns them. */
  async function sendAll(events: AcceptedEvent[]): Promise<AcceptedEvent[]> {
    await send(events, 0);
    return events;
  }

  async function startInstance(schema: string, group: string): Promise<{ service: RunningService }> {
    const env = await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: group });
    const service = await startIdentity(env);
    started.push(service);
    if (!apiPorts.has(schema)) apiPorts.set(schema, env['IDENTITY_API_PORT']!);
    return { service };
  }

  /** Stops every instance started so far: a test that counts published copies must be the only publisher. */
  async function stopInstances(): Promise<void> {
    await Promise.all(started.splice(0).map((service) => service.stop()));
  }

  /** profile id -> its identifiers, for the profiles holding identifiers of this run. */
  async function graphOf(schema: string, runTag = run): Promise<Record<string, string[]>> {
    const { rows } = await database.query<{ profile_id: string; identifiers: string[] }>(
      `SELECT profile_id, array_agg(identifier ORDER BY identifier) AS identifiers FROM "${schema}".links
       WHERE profile_id IN (SELECT profile_id FROM "${schema}".links WHERE identifier LIKE $1)
       GROUP BY profile_id ORDER BY profile_id`,
      [`%${runTag}%`],
    );
    return Object.fromEntries(rows.map((row) => [row.profile_id, row.identifiers]));
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** A marker event on every partition: once each is resolved, everything before it on its partition was too. */
  async function sendMarkers(tag: string): Promise<string[]> {
    const partitions = await partitionCount(kafka, Topics.accepted.name);
    const markers: string[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      const marker = accepted({ anonymousId: `marker-${tag}-${partition}-${run}` }, 0);
      markers.push(`anonymous_id:${marker.identifiers.anonymousId}`);
      await send([marker], partition);
    }
    return markers;
  }

  const caughtUp = (schema: string, markers: string[]) =>
    waitFor(`${schema} to resolve its markers`, async () => {
      const { rows } = await database.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".links WHERE identifier = ANY($1)`, [markers]);
      return Number(rows[0]!.n) === markers.length ? true : undefined;
    });

  /** Every record on the topic now (from the beginning) whose key or value `matches`. */
  async function recordsOf(topic: string, matches: (record: ConsumedRecord) => boolean): Promise<ConsumedRecord[]> {
    const records: ConsumedRecord[] = [];
    await readTopicToEnd(kafka, topic, (batch) => void records.push(...batch.filter(matches)));
    return records;
  }

  /** messageId -> every resolved record published for it, as [key, profileId, resolution] in JSON. */
  async function resolvedCopies(messageIds: ReadonlySet<string>): Promise<Map<string, string[]>> {
    const copies = new Map<string, string[]>();
    for (const record of await recordsOf(Topics.resolved.name, (candidate) => messageIds.has(json<ResolvedEvent>(candidate).messageId))) {
      const event = json<ResolvedEvent>(record);
      copies.set(event.messageId, [...(copies.get(event.messageId) ?? []), JSON.stringify([record.key?.toString(), event.profileId, event.resolution])]);
    }
    return copies;
  }

  /** Every resolved copy of these events, once each was published at least once (instances may publish one each). */
  async function resolvedEvents(messageIds: ReadonlySet<string>): Promise<ResolvedEvent[]> {
    return waitFor(`${messageIds.size} resolved events`, async () => {
      const events = (await recordsOf(Topics.resolved.name, (record) => messageIds.has(json<ResolvedEvent>(record).messageId))).map((record) => json<ResolvedEvent>(record));
      return new Set(events.map((event) => event.messageId)).size === messageIds.size ? events : undefined;
    });
  }

  beforeAll(async () => {
    // The test writes before any instance started (which would create the topics).
    await ensureTopics(kafka, ALL_TOPICS, { partitions: 2 });
    await producer.connect();
    await database.connect();
  });
  afterAll(async () => {
    await Promise.all(started.map((service) => service.stop()));
    await producer.disconnect();
    await database.end();
  });

  it('re-keys events by profile onto the resolved topic and publishes the merge of two journeys joined by an e-mail', async () => {
    await startInstance(`identity_a_${run}`, `kairos-identity-a-${run}`);
    const events = [
      accepted({ anonymousId: id('laptop') }, 0),
      accepted({ anonymousId: id('phone') }, 1),
      accepted({ anonymousId: id('laptop'), email: `anna-${run}@example.ch` }, 2),
      accepted({ anonymousId: id('phone'), email: `anna-${run}@example.ch` }, 3),
      accepted({ userId: id('anna'), anonymousId: id('phone') }, 4),
    ];
    // One browser's events, in order on one partition (as the collector keeps one request's batch).
    await send(events, 0);
    const messageIds = new Set(events.map((event) => event.messageId));
    const records = await readTopic(kafkaBrokers, Topics.resolved.name, 5, 60_000, (record) => messageIds.has(json<ResolvedEvent>(record).messageId));
    const resolved = records.map((record) => ({ key: record.key!.toString(), event: json<ResolvedEvent>(record) }));

    const laptop = resolved.find(({ event }) => event.messageId === events[0]!.messageId)!.event.profileId;
    const phone = resolved.find(({ event }) => event.messageId === events[1]!.messageId)!.event.profileId;
    expect(phone).not.toBe(laptop);
    for (const { key, event } of resolved) expect(key).toBe(event.profileId);
    const join = resolved.find(({ event }) => event.messageId === events[3]!.messageId)!.event;
    expect(join.profileId).toBe(laptop); // the older profile survives
    expect(join.resolution.mergedProfileIds).toEqual([phone]);
    expect(resolved.find(({ event }) => event.messageId === events[4]!.messageId)!.event).toMatchObject({
      profileId: laptop,
      resolution: { linked: [{ type: 'user_id', value: id('anna') }] },
    });

    const [merge] = await readTopic(kafkaBrokers, Topics.merges.name, 1, 30_000, (record) => record.key?.toString() === phone && record.value !== null);
    expect(json<ProfileMerge>(merge!)).toMatchObject({ loserId: phone, survivorId: laptop, reason: 'shared_identifier', identifiers: [{ type: 'anonymous_id', value: id('phone') }, { type: 'email', value: `anna-${run}@example.ch` }] });
    expect(await graphOf(`identity_a_${run}`)).toEqual({
      [laptop]: [`anonymous_id:${id('laptop')}`, `anonymous_id:${id('phone')}`, `email:anna-${run}@example.ch`, `user_id:${id('anna')}`],
    });
  });

  it('resolves a replayed messageId to the same profile and dead-letters an event with no usable identifier', async () => {
    const event = accepted({ userId: id('replayed') }, 10);
    const blocked = accepted({ anonymousId: 'anonymous' }, 11, { messageId: `${run}-blocked` });
    await send([event, blocked, event]);
    const records = await readTopic(kafkaBrokers, Topics.resolved.name, 2, 60_000, (record) => json<ResolvedEvent>(record).messageId === event.messageId);
    expect(new Set(records.map((record) => json<ResolvedEvent>(record).profileId)).size).toBe(1);
    const [dead] = await readTopic(kafkaBrokers, deadLetterTopic(`kairos-identity-a-${run}`).name, 1, 30_000, (record) => record.value?.toString().includes(`${run}-blocked`) ?? false);
    expect(dead!.headers[DeadLetterHeaders.reason]).toBe('rejected');
    expect(dead!.headers[DeadLetterHeaders.detail]).toContain('anonymous_id "anonymous" (blocked)');
  });

  it('resolves an event addressed by profile id to that profile or its survivor, links nothing, and drops one for an erased profile', async () => {
    const schema = `identity_a_${run}`;
    const email = `addressed-${run}@example.ch`;
    /** An event of Kairos' own (dispatch's engagement, a journey's updateProfile) addressed to `profileId`. */
    const addressed = (profileId: string, minute: number) =>
      accepted({ profileId }, minute, { type: 'track', event: 'Email Opened', traits: { email }, context: { kairos: { profileId } } });
    const resolvedOf = async (events: AcceptedEvent[]) => {
      const byMessage = new Map((await resolvedEvents(new Set(events.map((event) => event.messageId)))).map((event) => [event.messageId, event]));
      return events.map((event) => byMessage.get(event.messageId)!);
    };

    const [user, visitor] = await resolvedOf(await sendAll([accepted({ userId: id('addr-user') }, 50), accepted({ anonymousId: id('addr-visitor') }, 51)]));
    const [opened] = await resolvedOf(await sendAll([addressed(visitor!.profileId, 52)]));
    expect(opened).toMatchObject({
      profileId: visitor!.profileId,
      resolution: { matched: [{ type: 'profile_id', value: visitor!.profileId }], linked: [], ignored: [], mergedProfileIds: [] },
    });
    expect(await graphOf(schema, email)).toEqual({}); // the e-mail it carried was linked to no one

    // The visitor logs in (merged into the user); an event addressed to the visitor right behind the login, and one later.
    const [login, behind] = await resolvedOf(await sendAll([accepted({ userId: id('addr-user'), anonymousId: id('addr-visitor') }, 53), addressed(visitor!.profileId, 53)]));
    expect(login!.resolution.mergedProfileIds).toEqual([visitor!.profileId]);
    const [later] = await resolvedOf(await sendAll([addressed(visitor!.profileId, 54)]));
    expect([behind!.profileId, later!.profileId]).toEqual([user!.profileId, user!.profileId]);

    // An id the graph does not know (yet: a replay may read it before the event that founds the profile) stands as given.
    const stranger = randomUUID();
    const [unknown] = await resolvedOf(await sendAll([addressed(stranger, 55)]));
    expect(unknown!.profileId).toBe(stranger);

    // Erased: an open of a mail sent before is dropped, whether addressed to the survivor or to the merged-away profile.
    const response = await fetch(`http://127.0.0.1:${apiPorts.get(schema)}/internal/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: `erase-addressed-${run}`, identifier: { type: 'user_id', value: id('addr-user') } }),
    });
    expect(response.status).toBe(200);
    const dropped = [addressed(user!.profileId, 56), addressed(visitor!.profileId, 56)];
    const marker = accepted({ anonymousId: id('addr-marker') }, 57);
    await send([...dropped, marker], 0);
    await resolvedEvents(new Set([marker.messageId]));
    expect(await recordsOf(Topics.resolved.name, (record) => dropped.some((event) => event.messageId === json<ResolvedEvent>(record).messageId))).toEqual([]);
  });

  it('erases the whole component of a bridge identifier, keeps it erased, and a replay into an empty database does not resurrect it', async () => {
    const schema = `identity_a_${run}`;
    const email = `bridge-${run}@example.ch`;
    await send([
      accepted({ anonymousId: id('web') }, 20),
      accepted({ anonymousId: id('app') }, 21),
      accepted({ anonymousId: id('web'), email }, 22),
      accepted({ anonymousId: id('app'), email: ` Bridge-${run}@Example.CH ` }, 23, { identifiers: { anonymousId: id('app'), email } }),
    ]);
    const profile = await waitFor('the bridged profile', async () => {
      const graph = await graphOf(schema, `bridge-${run}`);
      const entry = Object.entries(graph).find(([, identifiers]) => identifiers.length === 3);
      return entry?.[0];
    });

    const apiPort = apiPorts.get(schema)!;
    const response = await fetch(`http://127.0.0.1:${apiPort}/internal/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: `erase-${run}`, identifier: { type: 'email', value: ` BRIDGE-${run}@example.ch` } }),
    });
    expect(response.status).toBe(200);
    const result = (await response.json()) as { erasure: ProfileErasure };
    expect(result.erasure.profileIds).toContain(profile);
    expect(result.erasure.identifierCount).toBe(3);
    expect(await graphOf(schema, `bridge-${run}`)).toEqual({});
    const { rows } = await database.query(`SELECT * FROM "${schema}".profiles WHERE id = ANY($1::uuid[])`, [result.erasure.profileIds]);
    expect(rows).toEqual([]);

    const [erasure] = await readTopic(kafkaBrokers, Topics.erasures.name, 1, 30_000, (record) => json<ProfileErasure>(record).requestId === `erase-${run}`);
    expect(json<ProfileErasure>(erasure!).profileIds).toEqual(result.erasure.profileIds);
    const tombstones = await readTopic(kafkaBrokers, Topics.merges.name, result.erasure.profileIds.length, 30_000, (record) => record.value === null && result.erasure.profileIds.includes(record.key!.toString()));
    expect(tombstones).toHaveLength(result.erasure.profileIds.length);

    // Bad requests are refused with the reason; an unknown profile is a 404.
    const bad = await fetch(`http://127.0.0.1:${apiPort}/internal/erasures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"identifier":{"type":"email"}}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('invalid erasure request');
    const unknown = await fetch(`http://127.0.0.1:${apiPort}/internal/erasures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ profileId: randomUUID() }) });
    expect(unknown.status).toBe(404);

    // New events of the erased customer are dropped, not resolved into a new profile.
    const afterwards = accepted({ anonymousId: id('web') }, 30);
    const markers = await sendMarkers('after-erasure');
    await send([afterwards]);
    await caughtUp(schema, markers);
    await caughtUp(schema, await sendMarkers('after-erasure-2'));
    expect(await graphOf(schema, id('web'))).toEqual({});

    // A replay of the whole accepted topic into an empty schema, with a fresh consumer group.
    const replay = `identity_replay_${run}`;
    await startInstance(replay, `kairos-identity-replay-${run}`);
    await caughtUp(replay, await sendMarkers('replay'));
    expect(await graphOf(replay, `bridge-${run}`)).toEqual({});
    expect(await graphOf(replay, id('web'))).toEqual({});
    expect(await graphOf(replay, id('app'))).toEqual({});
    // ...while everything else of this run is back, with the same profile ids.
    expect(await graphOf(replay, id('anna'))).toEqual(await graphOf(schema, id('anna')));
  });

  it('publishes an erasure of a three-profile component once per profile id, on the partition of each, and tombstones no snapshot', async () => {
    const schema = `identity_a_${run}`;
    const email = `trio-${run}@example.ch`;
    // Anonymous visitors until three of them have profiles on different partitions of the (co-partitioned) topics.
    const visitors: Array<{ anonymousId: string; profileId: string; partition: number }> = [];
    for (let round = 0; round < 10 && new Set(visitors.map((visitor) => visitor.partition)).size < 2; round++) {
      const events = Array.from({ length: 4 }, (_, index) => accepted({ anonymousId: id(`trio-${round}-${index}`) }, 40 + round));
      await send(events, 0);
      const messageIds = new Set(events.map((event) => event.messageId));
      for (const record of await readTopic(kafkaBrokers, Topics.resolved.name, events.length, 30_000, (candidate) => messageIds.has(json<ResolvedEvent>(candidate).messageId))) {
        const event = json<ResolvedEvent>(record);
        // Another instance (the replay schema's) may have published a copy.
        if (!visitors.some((visitor) => visitor.profileId === event.profileId)) visitors.push({ anonymousId: event.identifiers.anonymousId!, profileId: event.profileId, partition: record.partition });
      }
    }
    const byPartition = (partition: number) => visitors.filter((visitor) => visitor.partition === partition);
    const trio = [...byPartition(0).slice(0, 2), ...byPartition(1).slice(0, 2)].slice(0, 3);
    expect(new Set(trio.map((visitor) => visitor.partition)).size).toBe(2);

    // The same e-mail on all three merges them into one survivor.
    const joins = trio.map((visitor) => accepted({ anonymousId: visitor.anonymousId, email }, 50));
    await send(joins, 0);
    const joinIds = new Set(joins.map((event) => event.messageId));
    await readTopic(kafkaBrokers, Topics.resolved.name, 3, 30_000, (record) => joinIds.has(json<ResolvedEvent>(record).messageId));
    expect(Object.keys(await graphOf(schema, `trio-${run}`))).toHaveLength(1);

    const erase = () =>
      fetch(`http://127.0.0.1:${apiPorts.get(schema)!}/internal/erasures`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestId: `erase-trio-${run}`, identifier: { type: 'email', value: email } }),
      });
    const response = await erase();
    expect(response.status).toBe(200);
    const { erasure } = (await response.json()) as { erasure: ProfileErasure };
    expect([...erasure.profileIds].sort()).toEqual(trio.map((visitor) => visitor.profileId).sort());
    // A repeated request (the client did not hear the answer) publishes the same records again.
    const repeated = await erase();
    expect(await repeated.json()).toEqual({ erasure, found: true, repeated: true });

    const records = await readTopic(kafkaBrokers, Topics.erasures.name, 6, 30_000, (record) => json<ProfileErasure>(record).requestId === `erase-trio-${run}`);
    const keys = records.map((record) => record.key!.toString()).sort();
    expect(keys).toEqual([...erasure.profileIds, ...erasure.profileIds].sort());
    for (const record of records) {
      expect(json<ProfileErasure>(record)).toEqual(erasure);
      // On the partition the profile's resolved events are on: the partition whose owner holds the profile's state.
      expect(record.partition).toBe(trio.find((visitor) => visitor.profileId === record.key!.toString())!.partition);
    }

    // The API answered after the broker acknowledged everything the erasure publishes, so a marker produced now on
    // every partition of the snapshot topic comes after any tombstone identity could have written there.
    const snapshotMarkers = await partitionCount(kafka, Topics.profileSnapshots.name);
    for (let partition = 0; partition < snapshotMarkers; partition++) {
      await producer.send(Topics.profileSnapshots.name, [{ key: `marker-trio-${run}`, value: '{}', partition }]);
    }
    const snapshots = await readTopic(kafkaBrokers, Topics.profileSnapshots.name, snapshotMarkers, 30_000, (record) => record.key?.toString() === `marker-trio-${run}`);
    expect(snapshots).toHaveLength(snapshotMarkers);
    expect(await recordsOf(Topics.profileSnapshots.name, (record) => erasure.profileIds.includes(record.key?.toString() ?? ''))).toEqual([]);
  });

  it('joins an import of last year\'s orders to existing customers: no merge, the same profile ids', async () => {
    const schema = `identity_a_${run}`;
    const customers = [1, 2, 3].map((n) => id(`importer-${n}`));
    const identifies = customers.map((userId) => accepted({ userId, email: `${userId}@example.ch` }, 60));
    await send(identifies);
    const profiles = new Map((await resolvedEvents(new Set(identifies.map((event) => event.messageId)))).map((event) => [event.userId!, event.profileId]));
    expect(profiles.size).toBe(3);

    // /v1/import of January's orders, a year back: received now (an hour after the identifies), dated then.
    const receivedAt = new Date(T0 + 120 * 60_000).toISOString();
    const orders = customers.flatMap((userId, n) =>
      [0, 1].map((day) => {
        const timestamp = new Date(T0 - 365 * 86_400_000 + (n * 2 + day) * 86_400_000).toISOString();
        return accepted({ userId }, 0, { type: 'track', event: 'Order Completed', timestamp, receivedAt });
      }),
    );
    // A guest order of last year, imported with the customer's e-mail and the shop's POS id.
    orders.push(accepted({ email: `${customers[0]}@example.ch`, anonymousId: id('pos-1') }, 0, { timestamp: new Date(T0 - 300 * 86_400_000).toISOString(), receivedAt }));
    await send(orders);
    for (const event of await resolvedEvents(new Set(orders.map((order) => order.messageId)))) {
      // A merge is announced in the resolution of the event that caused it.
      expect(event.resolution.mergedProfileIds).toEqual([]);
      expect(event.profileId).toBe(profiles.get(event.userId ?? customers[0]!));
    }
    const graph = await graphOf(schema, 'importer-');
    expect(Object.keys(graph).sort()).toEqual([...profiles.values()].sort());
  });

  it('publishes an erasure whose publish failed again by itself, without a repeated request', async () => {
    const schema = `identity_erasure_retry_${run}`;
    const env = await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: `kairos-identity-erasure-retry-${run}`, IDENTITY_ERASURE_RETRY_SECONDS: '1' });
    const service = await startIdentity(env);
    started.push(service);
    const email = `retry-${run}@example.ch`;
    await send([accepted({ anonymousId: id('retry'), email }, 40)]);
    await caughtUp(schema, await sendMarkers('erasure-retry'));
    expect(Object.keys(await graphOf(schema, `retry-${run}`))).toHaveLength(1);

    // The broker refuses the publish (here: the service's producer is disconnected); the erasure itself is committed.
    await service.producer.disconnect();
    const response = await fetch(`http://127.0.0.1:${env['IDENTITY_API_PORT']}/internal/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: `erase-retry-${run}`, identifier: { type: 'email', value: email } }),
    });
    expect(response.status).toBe(500);
    expect(await graphOf(schema, `retry-${run}`)).toEqual({});

    await service.producer.connect();
    const [erasure] = await readTopic(kafkaBrokers, Topics.erasures.name, 1, 30_000, (record) => json<ProfileErasure>(record).requestId === `erase-retry-${run}`);
    expect(json<ProfileErasure>(erasure!).profileIds).toHaveLength(1);
  });

  it('publishes a redelivered batch again as it was first published, without resolving it again', async () => {
    await stopInstances();
    const schema = `identity_redelivery_${run}`;
    const first = await startInstance(schema, `kairos-identity-redelivery-${run}`);
    const events: AcceptedEvent[] = [];
    for (let c = 0; c < 20; c++) {
      events.push(accepted({ anonymousId: id(`redo${c}-web`) }, c));
      events.push(accepted({ anonymousId: id(`redo${c}-app`) }, c + 1));
      events.push(accepted({ userId: id(`redo${c}`), anonymousId: id(`redo${c}-web`) }, c + 2));
      events.push(accepted({ userId: id(`redo${c}`), anonymousId: id(`redo${c}-app`) }, c + 3)); // a merge
    }
    for (let c = 0; c < 20; c++) await send(events.slice(c * 4, c * 4 + 4), c % 2);
    await caughtUp(schema, await sendMarkers('redelivery'));
    const messageIds = new Set(events.map((event) => event.messageId));
    const published = await resolvedCopies(messageIds);
    expect(published.size).toBe(events.length);
    const graph = await graphOf(schema, 'redo');
    const profileRows = async () =>
      (await database.query(`SELECT id, origin_received_at_ms, merge_count, merged_into, updated_at FROM "${schema}".profiles WHERE id = ANY($1::uuid[]) ORDER BY id`, [Object.keys(graph)])).rows;
    const rows = await profileRows();
    const merges = async () => recordsOf(Topics.merges.name, (record) => record.value !== null && messageIds.has(json<ProfileMerge>(record).messageId));
    const mergeRecords = await merges();
    expect(mergeRecords).toHaveLength(20);

    // Every record again, from the beginning, to the same database: a new group of the same stage.
    await first.service.stop();
    await startInstance(schema, `kairos-identity-redelivery-again-${run}`);
    await caughtUp(schema, await sendMarkers('redelivery-again'));

    const republished = await resolvedCopies(messageIds);
    for (const [messageId, copies] of republished) {
      // Resolving again would differ: the second time, an event links nothing (resolution.linked is empty).
      expect(copies).toEqual([...published.get(messageId)!, ...published.get(messageId)!]);
    }
    expect(republished.size).toBe(events.length);
    const asText = (records: ConsumedRecord[]) => records.map((record) => `${record.key?.toString()} ${record.value?.toString()}`).sort();
    expect(asText(await merges())).toEqual(asText([...mergeRecords, ...mergeRecords]));
    expect(await graphOf(schema, 'redo')).toEqual(graph);
    expect(await profileRows()).toEqual(rows);
    await stopInstances();
  });

  it('loses nothing and re-keys nothing differently when an identity process is killed (-9) mid-stream and restarted', async () => {
    const schema = `identity_killed_${run}`;
    const group = `kairos-identity-killed-${run}`;
    const env = await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: group });
    const spawnIdentity = async () => {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'main.ts')], {
        cwd: join(__dirname, '..', '..', '..'),
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitUntilHealthy('identity', child, Number(env.HEALTH_PORT));
      return child;
    };

    // 300 customers, five events each, every customer's events on one partition (their key) in order.
    const events: Array<{ key: string; event: AcceptedEvent }> = [];
    for (let c = 0; c < 300; c++) {
      const key = id(`kill${c}`);
      const minute = c % 40;
      for (const [identifiers, offset] of [
        [{ anonymousId: id(`kill${c}-web`) }, 0],
        [{ anonymousId: id(`kill${c}-app`) }, 1],
        [{ anonymousId: id(`kill${c}-web`), email: `kill${c}-${run}@example.ch` }, 2],
        [{ userId: key, anonymousId: id(`kill${c}-app`) }, 3],
        [{ userId: key, email: `kill${c}-${run}@example.ch` }, 4],
      ] as const) {
        events.push({ key, event: accepted(identifiers, minute + offset) });
      }
    }
    const sendChunk = (chunk: typeof events) => producer.send(Topics.accepted.name, chunk.map(({ key, event }) => ({ key, value: JSON.stringify(event) })));
    const streamed = async () => {
      const { rows } = await database.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".links WHERE identifier LIKE '%kill%'`);
      return Number(rows[0]!.n) > 0 ? true : undefined;
    };

    let child = await spawnIdentity();
    try {
      const chunked = chunks(events, 50);
      for (const [index, chunk] of chunked.entries()) {
        await sendChunk(chunk);
        if (index === 10) {
          // Killed while it works through the stream, the rest of which is produced while it is down.
          await waitFor('part of the stream to be resolved', streamed);
          child.kill('SIGKILL');
          await new Promise((resolve) => child.once('exit', resolve));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child = await spawnIdentity();
      await caughtUp(schema, await sendMarkers('after-crash'));
    } finally {
      await stopChild(child, 30_000);
    }
    const messageIds = new Set(events.map(({ event }) => event.messageId));
    const afterCrash = await resolvedCopies(messageIds);
    expect(afterCrash.size).toBe(events.length); // nothing lost
    for (const copies of afterCrash.values()) expect(new Set(copies).size).toBe(1); // any repeat is the same

    // The same stream through an instance that never crashed.
    const reference = `identity_unkilled_${run}`;
    await startInstance(reference, `kairos-identity-unkilled-${run}`);
    await caughtUp(reference, await sendMarkers('reference'));
    for (const [messageId, copies] of await resolvedCopies(messageIds)) {
      expect(copies.length).toBeGreaterThan(afterCrash.get(messageId)!.length);
      expect(new Set(copies)).toEqual(new Set(afterCrash.get(messageId)));
    }
    const graph = await graphOf(schema, 'kill');
    expect(Object.keys(graph)).toHaveLength(300);
    expect(await graphOf(reference, 'kill')).toEqual(graph);
  });

  it('two instances in one consumer group, with a rebalance mid-stream, build exactly the graph one instance builds', async () => {
    const stream = (half: number): AcceptedEvent[] => {
      const events: AcceptedEvent[] = [];
      for (let c = half * 60; c < (half + 1) * 60; c++) {
        const minute = (c * 7) % 50;
        events.push(accepted({ anonymousId: id(`c${c}-web`) }, minute));
        events.push(accepted({ anonymousId: id(`c${c}-app`) }, minute + 1));
        events.push(accepted({ anonymousId: id(`c${c}-web`), email: `c${c}-${run}@example.ch` }, minute + 2));
        events.push(accepted({ userId: id(`c${c}`), anonymousId: id(`c${c}-app`) }, minute + 3));
        events.push(accepted({ userId: id(`c${c}`), email: `c${c}-${run}@example.ch` }, minute + 4));
        // A late page view, older than the profile it joins: processed after the others.
        events.push(accepted({ anonymousId: id(`c${c}-app`) }, minute - 30));
      }
      return events;
    };
    const one = `identity_one_${run}`;
    const two = `identity_two_${run}`;
    await send(stream(0));
    await startInstance(one, `kairos-identity-one-${run}`);
    const first = await startInstance(two, `kairos-identity-two-${run}`);
    const halfway = await sendMarkers('half');
    await Promise.all([caughtUp(one, halfway), caughtUp(two, halfway)]);

    // The second instance joins while the second half streams in: the group rebalances mid-stream.
    const joining = startInstance(two, `kairos-identity-two-${run}`);
    for (const chunk of chunks(stream(1), 30)) await send(chunk);
    const second = await joining;
    const end = await sendMarkers('end');
    await Promise.all([caughtUp(one, end), caughtUp(two, end)]);

    const expected = await graphOf(one);
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(120);
    expect(await graphOf(two)).toEqual(expected);
    // Both instances of the group consumed accepted events (the lag map has an entry per partition it processed).
    for (const instance of [first, second]) {
      const partitions = [...(instance.service.transport.batchConsumer?.currentLag().keys() ?? [])].filter((key) => key.startsWith(Topics.accepted.name));
      expect(partitions.length).toBeGreaterThan(0);
    }
  });

});

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
