import { randomUUID } from 'node:crypto';
import { EVENT_SCHEMAS, ProfileMerge, ProfileTransferRecord, ProfileUpdateRecord, ResolvedEvent, SchemaIds, SchemaValidator, Topics } from '@kairos/contracts';
import { ConsumedRecord, connectKafka, endOffsets, keyPartition, RecordProducer } from '@kairos/kafka';
import { RunningService } from '@kairos/service-runtime';
import { readTopic, ServiceProcess, serviceTestEnv, startServiceProcess, testStack } from '@kairos/testing';
import { Client } from 'pg';
import { startSegmentation } from './main';
import { SegmentProfilesUseCase } from './profiles/segment-profiles.use-case';
import { TestSegments } from './testing/segment-definitions';

const json = <T>(record: ConsumedRecord): T => JSON.parse(record.value!.toString()) as T;
/** A transfer record's own fields (distributive over its kinds). */
type TransferFields = ProfileTransferRecord extends infer R ? (R extends unknown ? Omit<R, 'groupId' | 'hops'> : never) : never;
const PARTITIONS = 2; // the test topics' partition count (serviceTestEnv, the harness)

function profileOn(partition: number): string {
  for (;;) {
    const candidate = randomUUID();
    if (keyPartition(candidate, PARTITIONS) === partition) return candidate;
  }
}

/**
 * Merges across partitions with two instances of the service in one group, each owning one partition: the loser's
 * state is handed over to the survivor's writer, a late event keyed by the loser follows it, a chain (D into B, B
 * already into A) resolves, and the survivor ends up exactly as a control profile that got every event directly.
 * Then a redelivered batch changes nothing, and a replay into an empty store reaches the same memberships.
 */
describe('segmentation merges across partitions and instances', () => {
  const { kafkaBrokers, databaseUrl } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'segmentation-merges-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const run = randomUUID().slice(0, 8);
  const group = `segmentation-merges-${run}`;
  const schema = `segmentation_merges_${run}`;
  const bigSpenders = `big-spenders-${run}`;
  const namedBuyers = `named-buyers-${run}`;
  const buyers = `buyers-${run}`;
  let profiles: { a: string; c: string } | undefined;
  const segments = new TestSegments(kafka, 'segmentation-merges-int-spec');
  /** Other files' segments may be in force on the shared definitions topic too: this file looks at its own. */
  const own = (segmentId: string) => segmentId.endsWith(run);
  const database = new Client({ connectionString: databaseUrl });
  let local: RunningService | undefined;
  let localEnv: NodeJS.ProcessEnv & { HEALTH_PORT: string } = { HEALTH_PORT: '' };
  let other: ServiceProcess | undefined;
  let sequence = 0;

  function event(profileId: string, at: number, fields: Partial<ResolvedEvent>): ResolvedEvent {
    sequence += 1;
    const timestamp = new Date(at).toISOString();
    return {
      type: 'track',
      messageId: `${run}-m${sequence}`,
      sourceId: 'test',
      receivedAt: timestamp,
      timestamp,
      identifiers: { userId: `user-${run}` },
      profileId,
      resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [] },
      ...fields,
    };
  }
  const order = (profileId: string, total: number, at: number) => event(profileId, at, { event: 'Order Completed', properties: { total } });
  const send = (events: ResolvedEvent[]) => producer.send(Topics.resolved.name, events.map((e) => ({ key: e.profileId, value: JSON.stringify(e) })));
  const merge = (loserId: string, survivorId: string, at: number): ProfileMerge => ({ loserId, survivorId, mergedAt: new Date(at).toISOString(), messageId: `${run}-merge-${loserId}`, reason: 'shared_identifier', identifiers: [] });
  const transfer = (fields: TransferFields) => ({ groupId: group, hops: 0, ...fields }) as ProfileTransferRecord;
  /** An event for a new profile on the transfers topic (as a forwarded event): a marker ordered with the transfers. */
  const markerTransfer = (profileId: string, at: number) => ({
    key: profileId,
    value: JSON.stringify(transfer({ transferId: `event/marker-${profileId}`, profileId, kind: 'event', loserId: profileId, event: order(profileId, 1, at) })),
  });
  /** The same event as the control profile receives it. */
  const asControl = (e: ResolvedEvent, control: string): ResolvedEvent => ({ ...e, profileId: control, resolution: { ...e.resolution, mergedProfileIds: [] } });

  async function updatesOf(profileIds: string[], count: number): Promise<ProfileUpdateRecord[]> {
    const records = await readTopic(kafkaBrokers, Topics.profileUpdates.name, count, 60_000, (record) => profileIds.includes(record.key?.toString() ?? ''));
    const updates = records.map((record) => json<ProfileUpdateRecord>(record));
    for (const update of updates) expect(validator.validate(SchemaIds.profileUpdate, update)).toMatchObject({ valid: true });
    return updates;
  }
  async function entries(inSchema: string, keys: string[]): Promise<Record<string, Record<string, unknown>>> {
    const result = await database.query<{ key: string; value: Record<string, unknown> }>(`SELECT key, value FROM "${inSchema}".state_entries WHERE store = 'profiles' AND key = ANY($1::text[])`, [keys]);
    return Object.fromEntries(result.rows.map((row) => [row.key, row.value]));
  }
  /** A profile's state with what names it (and the folds it took) left out: what "the same profile" compares. */
  const comparable = (entry: Record<string, unknown> | undefined) => {
    const { profile, memberships } = (entry ?? {}) as { profile?: Record<string, unknown>; memberships?: Record<string, { version: number }> };
    const { profileId: _id, ...state } = profile ?? {};
    return { state, segments: Object.keys(memberships ?? {}).filter(own).sort() };
  };

  beforeAll(async () => {
    const rules: Record<string, unknown> = {
      [bigSpenders]: { aggregate: { sum: 'total', of: 'Order Completed' }, atLeast: 5000 },
      [namedBuyers]: { all: [{ trait: 'name', exists: true }, { performed: 'Order Completed', atLeast: 2 }] },
    };
    await segments.publish(rules);
    await producer.connect();
    await database.connect();
  });

  afterAll(async () => {
    await local?.stop();
    await other?.stop();
    await producer.disconnect();
    await segments.withdraw();
    await database.end();
  });

  it('folds a loser owned by another instance into its survivor exactly as if every event had arrived under the survivor', async () => {
    const env = await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: group });
    local = await startSegmentation(env);
    const { HEALTH_PORT: _port, ...childEnv } = env;
    other = await startServiceProcess('segmentation', Object.fromEntries(Object.entries(childEnv).filter((entry): entry is [string, string] => entry[1] !== undefined)), Number((await serviceTestEnv()).HEALTH_PORT), 'a second segmentation instance');
    // Two members, two partitions: each instance owns one (the co-partitioned assigner). Wait for the split.
    const useCase = local.app.get(SegmentProfilesUseCase);
    const deadline = Date.now() + 60_000;
    while (useCase.store.ownedPartitions().length !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const owned = useCase.store.ownedPartitions().map((partition) => partition.partition);
    expect(owned).toHaveLength(1);

    // Survivor A on the partition one instance owns, losers B and D on the partition the other owns: every hand-over
    // crosses instances. Control C gets every event under its own id.
    const [mine] = owned;
    const a = profileOn(mine);
    const b = profileOn(1 - mine);
    const d = profileOn(1 - mine);
    const c = profileOn(mine);
    profiles = { a, c };
    const t0 = Date.now() - 60_000;
    const b1 = order(b, 3_000, t0);
    const b2 = event(b, t0 + 10, { type: 'identify', traits: { name: 'Bea', email: 'bea@example.com' } });
    const a1 = order(a, 1_000, t0 + 20);
    await send([b1, b2, a1]);
    await updatesOf([a, b], 3);

    // Identity merges B into A: the merge on the merges topic (keyed by the loser, so at B's writer) and the event
    // that caused it under A, naming B. Then, once B's writer handed its state over, a late event still keyed by B.
    const a2 = { ...order(a, 1_500, t0 + 30), resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [b] } };
    await producer.send(Topics.merges.name, [{ key: b, value: JSON.stringify(merge(b, a, t0 + 30)) }]);
    await send([a2]);
    const loserUpdates = await updatesOf([b], 3);
    expect(loserUpdates[2]).toMatchObject({ profileId: b, input: { kind: 'merge', loserId: b, survivorId: a }, segments: {}, changes: [] });
    expect(loserUpdates[2].state).toBeUndefined();
    const b3 = order(b, 700, t0 + 40);
    await send([b3]);

    // A chain: D (its own customer so far) is merged into B, which is already A. D's state goes to B's writer and on to A.
    const d1 = order(d, 200, t0 + 50);
    await send([d1]);
    await updatesOf([d], 1);
    await producer.send(Topics.merges.name, [{ key: d, value: JSON.stringify(merge(d, b, t0 + 60)) }]);

    await send([b1, b2, a1, a2, b3, d1].map((e) => asControl(e, c)));
    // A: its two events, the fold of B, B's late event, the fold of D (in an order cross-partition timing decides).
    const survivorUpdates = await updatesOf([a], 5);
    expect(survivorUpdates.map((update) => (update.input.kind === 'event' ? `event ${update.input.event.messageId}` : update.input.kind === 'merge' ? `merge ${update.input.loserId}` : update.input.kind)).sort()).toEqual(
      [`event ${a1.messageId}`, `event ${a2.messageId}`, `event ${b3.messageId}`, `merge ${b}`, `merge ${d}`].sort(),
    );
    const forwarded = survivorUpdates.find((update) => update.input.kind === 'event' && update.input.event.messageId === b3.messageId);
    expect(forwarded?.input).toMatchObject({ kind: 'event', event: { profileId: a } });
    await updatesOf([c], 6);

    const stored = await entries(schema, [a, b, c, d]);
    expect(comparable(stored[a])).toEqual(comparable(stored[c]));
    expect(comparable(stored[a]).segments).toEqual([bigSpenders, namedBuyers].sort()); // 6,400 spent, named Bea, 5 orders
    expect(stored[a]).toMatchObject({ foldedLosers: expect.arrayContaining([b, d]) });
    expect(stored[b]).toMatchObject({ redirect: a });
    expect(stored[d]).toMatchObject({ redirect: b });

    // A second copy of B's hand-over (a crash between publishing it and committing) folds nothing: a marker sent
    // after it on the same topic and partition comes next on A's partition of the update stream.
    const marker = profileOn(mine);
    await producer.send(Topics.profileTransfers.name, [
      { key: a, value: JSON.stringify(transfer({ transferId: `state/${b}`, profileId: a, kind: 'state', loserId: b, mergedAt: new Date(t0 + 30).toISOString(), state: loserUpdates[1].state })) },
      markerTransfer(marker, t0 + 70),
    ]);
    const next = await updatesOf([a, marker], 6);
    expect(next[5].profileId).toBe(marker);
    expect(comparable((await entries(schema, [a]))[a])).toEqual(comparable(stored[c]));
  });

  it('a redelivered batch (the group rewound to the start) changes nothing and publishes nothing', async () => {
    const outputs = [Topics.profileUpdates.name, Topics.profileSnapshots.name, Topics.segmentChanges.name, Topics.profileTransfers.name];
    const ends = async () => Object.fromEntries(await Promise.all(outputs.map(async (topic) => [topic, [...(await endOffsets(kafka, topic)).entries()].sort().map(([, end]) => Number(end))] as const)));
    const before = await database.query(`SELECT key, value FROM "${schema}".state_entries WHERE store = 'profiles' ORDER BY key`);
    await other?.stop();
    other = undefined;
    await local?.stop();
    local = undefined;
    // The consumer group's committed offsets go back to the start: every record is delivered again.
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of [Topics.resolved.name, Topics.merges.name, Topics.profileTransfers.name]) await admin.resetOffsets({ groupId: group, topic, earliest: true });
    } finally {
      await admin.disconnect();
    }
    const published = await ends();
    localEnv = await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: group });
    local = await startSegmentation(localEnv);
    // Markers after everything redelivered, on each partition of both topics that carry events: their updates are the
    // only records this run publishes.
    const t = Date.now();
    const onResolved = [profileOn(0), profileOn(1)];
    const onTransfers = [profileOn(0), profileOn(1)];
    await send(onResolved.map((profileId) => order(profileId, 1, t)));
    await producer.send(Topics.profileTransfers.name, onTransfers.map((profileId) => markerTransfer(profileId, t)));
    const markers = [...onResolved, ...onTransfers];
    const updates = await readTopic(kafkaBrokers, Topics.profileUpdates.name, 4, 60_000, (record) => markers.includes(record.key?.toString() ?? ''));
    expect(updates.map((record) => record.key?.toString()).sort()).toEqual([...markers].sort());
    // Per partition: two updates and two snapshots (the markers'), no change, nothing handed over; transfers gained
    // the two markers this test wrote itself.
    const plusTwo = (offsets: number[]) => offsets.map((offset) => offset + 2);
    expect(await ends()).toEqual({
      [Topics.profileUpdates.name]: plusTwo(published[Topics.profileUpdates.name]),
      [Topics.profileSnapshots.name]: plusTwo(published[Topics.profileSnapshots.name]),
      [Topics.segmentChanges.name]: published[Topics.segmentChanges.name],
      [Topics.profileTransfers.name]: published[Topics.profileTransfers.name].map((offset) => offset + 1),
    });
    const after = await database.query(`SELECT key, value FROM "${schema}".state_entries WHERE store = 'profiles' AND NOT (key = ANY($1::text[])) ORDER BY key`, [markers]);
    expect(after.rows).toEqual(before.rows);
  });

  it('a new segment is backfilled over the stored profiles, marked as backfill, while live events go on', async () => {
    if (!profiles) throw new Error('the merge test did not run');
    const { a, c } = profiles;
    await segments.publish({ [buyers]: { performed: 'Order Completed' } });
    // A live event during the backfill is applied as usual.
    const live = profileOn(0);
    const liveOrder = order(live, 10, Date.now());
    await send([liveOrder]);
    const [liveUpdate] = await updatesOf([live], 1);
    expect(liveUpdate.input).toMatchObject({ kind: 'event', event: { messageId: liveOrder.messageId } });

    const backfilled = (
      await readTopic(kafkaBrokers, Topics.profileUpdates.name, 2, 60_000, (record) => [a, c].includes(record.key?.toString() ?? '') && json<ProfileUpdateRecord>(record).input.kind === 'backfill')
    ).map((record) => json<ProfileUpdateRecord>(record));
    expect(backfilled.map((update) => update.profileId).sort()).toEqual([a, c].sort());
    for (const update of backfilled) {
      expect(validator.validate(SchemaIds.profileUpdate, update)).toMatchObject({ valid: true });
      // Named by the release it evaluated to; buyers among the segments backfilled.
      const input = update.input as Extract<ProfileUpdateRecord['input'], { kind: 'backfill' }>;
      expect(update).toMatchObject({ updateId: `${update.profileId}/backfill/${input.release}`, input: { kind: 'backfill', release: expect.any(String) } });
      expect([{ segmentId: input.segmentId, version: input.version }, ...(input.segments ?? [])]).toContainEqual({ segmentId: buyers, version: 1 });
      expect(update.changes.filter((change) => own(change.segmentId)).map((change) => [change.segmentId, change.change, change.cause])).toEqual([[buyers, 'enter', { kind: 'backfill' }]]);
      expect(Object.keys(update.segments).filter(own).sort()).toEqual([bigSpenders, buyers, namedBuyers].sort());
    }
    // Progress as a metric (and as log lines).
    const exposed = await (await fetch(`http://127.0.0.1:${localEnv.HEALTH_PORT}/metrics`)).text();
    expect(exposed).toMatch(/kairos_segmentation_backfilled_profiles(_total)?\{[^}]*partition="\d"[^}]*\} [1-9]/);
  });
});
