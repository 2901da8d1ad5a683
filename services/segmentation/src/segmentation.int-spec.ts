import { randomUUID } from 'node:crypto';
import {
  EVENT_SCHEMAS,
  ProfileErasure,
  ProfileSnapshotRecord,
  ProfileUpdateRecord,
  ResolvedEvent,
  SchemaIds,
  SchemaValidator,
  SegmentChangeRecord,
  Topics,
} from '@kairos/contracts';
import { ConsumedRecord, connectKafka, keyPartition, RecordProducer } from '@kairos/kafka';
import { RunningService } from '@kairos/service-runtime';
import { metricValue, readTopic, serviceTestEnv, testStack, untilMetrics } from '@kairos/testing';
import { Client } from 'pg';
import { startSegmentation } from './main';
import { TestSegments } from './testing/segment-definitions';

const json = <T>(record: ConsumedRecord): T => JSON.parse(record.value!.toString()) as T;

/** The test topics have two partitions (serviceTestEnv, the harness). */
const PARTITIONS = 2;

/** A new profile id whose records land on the same partition as `profileId`'s. */
function profileOnPartitionOf(profileId: string): string {
  for (;;) {
    const candidate = randomUUID();
    if (keyPartition(candidate, PARTITIONS) === keyPartition(profileId, PARTITIONS)) return candidate;
  }
}

describe('segmentation against the real stack', () => {
  const { kafkaBrokers, databaseUrl } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'segmentation-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const run = randomUUID().slice(0, 8); // segment ids and messageIds of this file carry it
  const schema = `segmentation_${run}`;
  const id = {
    bigSpenders: `big-spenders-${run}`,
    lapsed: `no-order-for-5s-${run}`,
    tenth: `tenth-purchase-${run}`,
    newWithoutOrder: `new-without-order-${run}`,
    subscribers: `email-subscribers-${run}`,
    pending: `email-pending-${run}`,
    vip: `vip-subscribers-${run}`,
    engaged: `engaged-${run}`,
    warming: `warming-${run}`,
  };
  const own = new Set(Object.values(id));
  const segments = new TestSegments(kafka, 'segmentation-int-spec');
  /** Memberships of this file's segments only: other files' segments may be in force on the shared topic too. */
  const mine = (memberships: Record<string, { version: number; since: number }>) => Object.fromEntries(Object.entries(memberships).filter(([segmentId]) => own.has(segmentId)));
  let service: RunningService | undefined;
  let metricsUrl = '';
  let sequence = 0;

  /** The profiles this file made: the resolved topic also holds other files' (its services read it from the start). */
  const created = new Set<string>();
  function event(profileId: string, at: number, fields: Partial<ResolvedEvent>): ResolvedEvent {
    sequence += 1;
    created.add(profileId);
    const timestamp = new Date(at).toISOString();
    return {
      type: 'track',
      messageId: `${run}-m${sequence}`,
      sourceId: 'test',
      receivedAt: timestamp,
      timestamp,
      userId: `user-${run}`,
      identifiers: { userId: `user-${run}` },
      profileId,
      resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [] },
      ...fields,
    };
  }
  const order = (profileId: string, total: number, at: number) => event(profileId, at, { event: 'Order Completed', properties: { total } });
  const track = (profileId: string, name: string, at: number, fields: Partial<ResolvedEvent> = {}) => event(profileId, at, { event: name, ...fields });
  const send = (events: ResolvedEvent[]) => producer.send(Topics.resolved.name, events.map((e) => ({ key: e.profileId, value: JSON.stringify(e) })));

  /** Records of one profile on a topic, waited for until `count` arrived (or 60 s). */
  async function recordsOf<T>(topic: string, profileId: string, count: number): Promise<T[]> {
    const records = await readTopic(kafkaBrokers, topic, count, 60_000, (record) => record.key?.toString() === profileId);
    return records.map((record) => (record.value === null ? (null as T) : json<T>(record)));
  }
  const changesOf = async (profileId: string, count: number) => {
    const records = await readTopic(kafkaBrokers, Topics.segmentChanges.name, count, 60_000, (record) => record.key?.toString() === profileId && own.has(json<SegmentChangeRecord>(record).segmentId));
    return records.map((record) => json<SegmentChangeRecord>(record));
  };
  /**
   * The profile's updates, without timer updates that changed none of this file's segments: the definitions topic is
   * shared with other test files (dispatch's publishes the shop examples), and their time-based segments give the
   * profile timers of their own.
   */
  const updatesOf = async (profileId: string, count: number) => {
    const records = await readTopic(kafkaBrokers, Topics.profileUpdates.name, count, 60_000, (record) => {
      if (record.key?.toString() !== profileId) return false;
      const update = json<ProfileUpdateRecord>(record);
      return update.input.kind !== 'timer' || update.changes.some((change) => own.has(change.segmentId));
    });
    const updates = records.map((record) => json<ProfileUpdateRecord>(record));
    for (const update of updates) expect(validator.validate(SchemaIds.profileUpdate, update)).toMatchObject({ valid: true });
    return updates;
  };
  const changeSummary = (update: ProfileUpdateRecord) => update.changes.filter((change) => own.has(change.segmentId)).map((change) => `${change.change} ${change.segmentId}`);

  beforeAll(async () => {
    // Segments with short durations, unique to this run, published on the catalogue's definitions topic (the one the
    // service follows) before the service starts, so they are in force from its first record. JSON is YAML.
    const rules: Record<string, unknown> = {
      [id.bigSpenders]: { aggregate: { sum: 'total', of: 'Order Completed' }, atLeast: 5000 },
      [id.lapsed]: { all: [{ performed: 'Order Completed' }, { notPerformed: 'Order Completed', within: '5s' }] },
      [id.tenth]: { performed: 'Order Completed', atLeast: 10 },
      [id.newWithoutOrder]: { all: [{ trait: 'signedUpAt', moreThanAgo: '3s' }, { trait: 'signedUpAt', withinLast: '30d' }, { notPerformed: 'Order Completed' }] },
      [id.subscribers]: { consent: { channel: 'email', purpose: 'marketing' } },
      [id.pending]: { consent: { channel: 'email', purpose: 'marketing', status: 'pending' } },
      [id.engaged]: { engagement: ['high'] },
      [id.warming]: { engagement: ['moderate'] },
    };
    await segments.publish(rules);
    // The segment of segments in a release of its own, after the segments it names: the harness creates the
    // definitions topic with the test partition count (deploy/local/stack.ts), so one release can be split across two
    // partitions, and a follower refuses a part that names a segment in the other part.
    await segments.publish({ [id.vip]: { all: [{ inSegment: id.bigSpenders }, { inSegment: id.subscribers }] } });
    await producer.connect();
    const env = await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: `segmentation-${run}` });
    metricsUrl = `http://127.0.0.1:${env.HEALTH_PORT}/metrics`;
    service = await startSegmentation(env);
  });

  afterAll(async () => {
    await service?.stop();
    await segments.withdraw();
    await producer.disconnect();
  });

  it('events make a profile enter a segment; a time-only segment enters by its durable timer, without a new event', async () => {
    const profileId = randomUUID();
    const first = Date.now();
    const events = [order(profileId, 3_000, first), order(profileId, 2_500, first + 100)];
    await send(events);

    // Lifetime spend reaches 5,500 with the second order: enter, caused by that event, at its event time. Five seconds
    // after the last order, with no event since, the profile enters "no order for 5 s": its timer fired.
    const changes = await changesOf(profileId, 2);
    for (const change of changes) expect(validator.validate(SchemaIds.segmentChange, change)).toMatchObject({ valid: true });
    expect(changes.map(({ changeId: _id, ...change }) => change)).toEqual([
      { profileId, segmentId: id.bigSpenders, version: 1, change: 'enter', at: new Date(first + 100).toISOString(), cause: { kind: 'event', messageId: events[1].messageId } },
      { profileId, segmentId: id.lapsed, version: 1, change: 'enter', at: expect.any(String), cause: { kind: 'timer' } },
    ]);
    // Not before the five seconds were up (a timer is never early), and close to it (not a periodic scan).
    const entered = Date.parse(changes[1].at);
    expect(entered).toBeGreaterThanOrEqual(first + 100 + 5_000);
    expect(entered).toBeLessThan(first + 100 + 5_000 + 1_000);

    // The latest snapshot says the profile is in both.
    const snapshots = (await readTopic(kafkaBrokers, Topics.profileSnapshots.name, 3, 30_000, (record) => record.key?.toString() === profileId)).map((record) => json<ProfileSnapshotRecord>(record));
    for (const snapshot of snapshots) expect(validator.validate(SchemaIds.profileSnapshot, snapshot)).toMatchObject({ valid: true });
    expect(Object.keys(mine(snapshots[snapshots.length - 1].segments)).sort()).toEqual([id.bigSpenders, id.lapsed].sort());

    // The ordered stream has each input: two events, then the timer, with the state after each.
    const updates = await updatesOf(profileId, 3);
    expect(updates.map((update) => [update.input.kind, changeSummary(update)])).toEqual([
      ['event', []],
      ['event', [`enter ${id.bigSpenders}`]],
      ['timer', [`enter ${id.lapsed}`]],
    ]);
    expect(updates[2]).toMatchObject({ updateId: `${profileId}/timer/${entered}`, segments: { [id.bigSpenders]: { version: 1 }, [id.lapsed]: { version: 1 } } });

    // The metrics count the entries by segment and cause, and the timer the wall clock fired.
    const samples = await untilMetrics(metricsUrl, (exposed) => {
      expect(metricValue(exposed, 'kairos_segmentation_changes_total', { segment: id.bigSpenders, change: 'enter', cause: 'event' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(exposed, 'kairos_segmentation_changes_total', { segment: id.lapsed, change: 'enter', cause: 'timer' })).toBeGreaterThanOrEqual(1);
    });
    expect(metricValue(samples, 'kairos_state_timers_fired_total', { store: 'profiles' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'kairos_state_commit_duration_seconds_count', { store: 'profiles' })).toBeGreaterThanOrEqual(2);
  });

  it('a late event (stamped before the last order) is judged at the profile\'s latest moment, not in the past: no enter and leave again', async () => {
    const profileId = randomUUID();
    const now = Date.now();
    const bought = order(profileId, 100, now);
    // An offline app's queue, sent after the order: a page view stamped 20 s before it. Judged at its own time, "ordered,
    // and not within 5 s" would hold (the state counts the order, which lies after it) and the profile would enter the
    // segment by this event, then leave it at once by its timer.
    const late = track(profileId, 'Product Viewed', now - 20_000);
    await send([bought, late]);

    // The first change is the real one: five seconds after the order, by the timer.
    const [first] = await changesOf(profileId, 1);
    expect(first).toMatchObject({ segmentId: id.lapsed, change: 'enter', cause: { kind: 'timer' } });
    expect(Date.parse(first.at)).toBeGreaterThanOrEqual(now + 5_000);
    const updates = await updatesOf(profileId, 3);
    expect(updates.map((update) => [update.input.kind, changeSummary(update)])).toEqual([
      ['event', []],
      ['event', []],
      ['timer', [`enter ${id.lapsed}`]],
    ]);
    // The late event's update is dated at the order, the profile's latest moment; its state keeps the event's own time.
    expect(updates[1].at).toBe(new Date(now).toISOString());
    expect(updates[1].state).toMatchObject({ firstSeenAt: now - 20_000 });
  });

  it('an event stamped ahead by a skewed clock is judged at its time, but the next one at its own, not dragged into the future', async () => {
    const profileId = randomUUID();
    const now = Date.now();
    const skewed = track(profileId, 'Product Viewed', now + 3_600_000);
    const next = track(profileId, 'Product Viewed', now + 100);
    await send([skewed, next]);
    const updates = await updatesOf(profileId, 2);
    expect(updates.map((update) => update.at)).toEqual([new Date(now + 3_600_000).toISOString(), new Date(now + 100).toISOString()]);
  });

  it('publishes every applied event on the ordered update stream, also one that changes no segment, and nothing for a duplicate', async () => {
    const profileId = randomUUID();
    const now = Date.now();
    const cart = track(profileId, 'Cart Updated', now, { properties: { items: [{ sku: 'A-1', quantity: 2 }] } });
    const bought = order(profileId, 6_000, now + 10);
    const marker = track(profileId, 'Marker', now + 20);
    // The order arrives twice (a producer retry upstream): its second copy is no new input.
    await send([cart, bought, { ...bought }, marker]);

    const updates = await updatesOf(profileId, 3);
    expect(updates.map((update) => [update.updateId, update.input.kind === 'event' ? update.input.event.messageId : undefined, changeSummary(update)])).toEqual([
      [`${profileId}/event/${cart.messageId}`, cart.messageId, []],
      [`${profileId}/event/${bought.messageId}`, bought.messageId, [`enter ${id.bigSpenders}`]],
      [`${profileId}/event/${marker.messageId}`, marker.messageId, []],
    ]);
    // Context travels with the record: the event as applied and the state after it.
    expect(updates[0].input).toMatchObject({ kind: 'event', event: { event: 'Cart Updated', properties: { items: [{ sku: 'A-1', quantity: 2 }] } } });
    expect(updates[1].state).toMatchObject({ profileId, lastActivityAt: now + 10 });
    expect(mine(updates[1].segments)).toEqual({ [id.bigSpenders]: { version: 1, since: now + 10 } });
    expect(updates[1].changes.find((change) => change.segmentId === id.bigSpenders)).toMatchObject({ segmentId: id.bigSpenders, change: 'enter', cause: { kind: 'event', messageId: bought.messageId } });
  });

  it('the seeds: a tenth purchase and a segment of segments enter by events; "signed up 3 s ago without an order" by its timer', async () => {
    const buyer = randomUUID();
    const newcomer = randomUUID();
    const now = Date.now();
    const orders = Array.from({ length: 10 }, (_, index) => order(buyer, 600, now + index));
    const subscribed = track(buyer, 'Subscribed', now + 20);
    const confirmed = track(buyer, 'Subscription Confirmed', now + 30);
    const signedUp = event(newcomer, now, { type: 'identify', traits: { signedUpAt: new Date(now).toISOString(), email: 'new@example.com' } });
    await send([...orders, subscribed, confirmed, signedUp]);

    const changes = await changesOf(buyer, 6);
    expect(changes.map((change) => [change.segmentId, change.change, change.cause.kind === 'event' ? change.cause.messageId : change.cause.kind])).toEqual([
      [id.bigSpenders, 'enter', orders[8].messageId], // 9 x 600 = 5,400
      [id.tenth, 'enter', orders[9].messageId],
      [id.pending, 'enter', subscribed.messageId], // double opt-in: pending until confirmed
      [id.pending, 'exit', confirmed.messageId],
      [id.subscribers, 'enter', confirmed.messageId],
      [id.vip, 'enter', confirmed.messageId], // big spender and now subscribed: the segment of segments follows at once
    ]);
    const [entered] = await changesOf(newcomer, 1);
    expect(entered).toMatchObject({ segmentId: id.newWithoutOrder, change: 'enter', cause: { kind: 'timer' } });
    expect(Date.parse(entered.at)).toBeGreaterThanOrEqual(now + 3_000);
  });

  it('engagement: opens, clicks and visits move a profile from passive to moderate to high', async () => {
    const profileId = randomUUID();
    const now = Date.now();
    // Points: Email Opened 1, Email Clicked 3, a page view 1; moderate from 3, high from 10 (within 30 days).
    const page = (at: number) => event(profileId, at, { type: 'page', name: 'Home' });
    await send([track(profileId, 'Email Opened', now), track(profileId, 'Email Clicked', now + 1), page(now + 2), track(profileId, 'Email Clicked', now + 3), track(profileId, 'Email Clicked', now + 4)]);
    const updates = await updatesOf(profileId, 5);
    expect(updates.map((update) => changeSummary(update).sort())).toEqual([[], [`enter ${id.warming}`], [], [], [`enter ${id.engaged}`, `exit ${id.warming}`]]);
  });

  it('consent: an opt-in keeps its proof and is pending until confirmed; a withdrawal wins over an older opt-in', async () => {
    const profileId = randomUUID();
    const now = Date.now();
    const optIn = track(profileId, 'Subscribed', now, {
      properties: { wording: 'Send me offers', formVersion: 'footer-3' },
      context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 test', page: { url: 'https://shop.example/newsletter' } },
    });
    const confirm = track(profileId, 'Double Opt-in Confirmed', now + 1_000);
    const withdraw = track(profileId, 'Unsubscribed', now + 2_000);
    const lateOptIn = track(profileId, 'Subscribed', now + 1_500); // older than the withdrawal, arriving after it
    const marker = track(profileId, 'Marker', now + 3_000);
    await send([optIn, confirm, withdraw, lateOptIn, marker]);

    const updates = await updatesOf(profileId, 5);
    expect(updates.map(changeSummary)).toEqual([[`enter ${id.pending}`], [`exit ${id.pending}`, `enter ${id.subscribers}`], [`exit ${id.subscribers}`], [], []]);
    expect(updates[0].state).toMatchObject({
      consent: {
        'email.marketing': {
          grant: { at: now, source: 'event', event: 'Subscribed', messageId: optIn.messageId, ip: '203.0.113.7', userAgent: 'Mozilla/5.0 test', wording: 'Send me offers', formVersion: 'footer-3' },
        },
      },
    });
    expect(mine(updates[4].segments)).toEqual({});
    expect(updates[4].state).toMatchObject({ consent: { 'email.marketing': { withdrawal: { messageId: withdraw.messageId } } } });
  });

  it('an erasure deletes the profile: exits, an update with input erasure, a snapshot tombstone; a later event for it is not applied', async () => {
    const profileId = randomUUID();
    const now = Date.now();
    await send([order(profileId, 7_000, now)]);
    await updatesOf(profileId, 1);
    const erasure: ProfileErasure = { requestId: `erase-${run}`, profileIds: [profileId], identifierCount: 1, erasedAt: new Date(now + 100).toISOString() };
    await producer.send(Topics.erasures.name, [{ key: profileId, value: JSON.stringify(erasure) }]);
    const [, erased] = await updatesOf(profileId, 2);
    expect(erased).toMatchObject({ updateId: `${profileId}/erasure`, input: { kind: 'erasure' }, segments: {} });
    expect(erased.changes.filter((change) => own.has(change.segmentId))).toMatchObject([{ segmentId: id.bigSpenders, change: 'exit', cause: { kind: 'erasure' } }]);
    expect(erased.state).toBeUndefined();
    const snapshots = await recordsOf<ProfileSnapshotRecord | null>(Topics.profileSnapshots.name, profileId, 2);
    expect(snapshots[1]).toBeNull();

    // A late event for the erased profile, then a marker of another profile on the same partition: the marker's update
    // comes right after the erasure's, with nothing for the late event in between.
    const other = profileOnPartitionOf(profileId);
    await send([order(profileId, 100, now + 200), track(other, 'Marker', now + 200)]);
    const stream = await readTopic(kafkaBrokers, Topics.profileUpdates.name, 3, 60_000, (record) => [profileId, other].includes(record.key?.toString() ?? ''));
    expect(stream.map((record) => [record.key?.toString(), json<ProfileUpdateRecord>(record).input.kind])).toEqual([
      [profileId, 'event'],
      [profileId, 'erasure'],
      [other, 'event'],
    ]);

    // The state is gone from the database (only the marker that keeps it gone is left), and so are its timers.
    const database = new Client({ connectionString: databaseUrl });
    await database.connect();
    try {
      const entries = await database.query(`SELECT value FROM "${schema}".state_entries WHERE store = 'profiles' AND key = $1`, [profileId]);
      expect(entries.rows).toEqual([{ value: { erased: erasure.requestId, at: now + 100 } }]);
      const timers = await database.query(`SELECT count(*)::int AS n FROM "${schema}".state_timers WHERE key = $1`, [profileId]);
      expect(timers.rows).toEqual([{ n: 0 }]);
    } finally {
      await database.end();
    }
  });

  it('a replay of the topics into an empty store reaches the same memberships and publishes the same change events', async () => {
    // Everything this file's service stored, replayed by a second service with a fresh group and schema.
    const database = new Client({ connectionString: databaseUrl });
    await database.connect();
    const replaySchema = `segmentation_replay_${run}`;
    const replay = await startSegmentation(await serviceTestEnv({ DATABASE_SCHEMA: replaySchema, KAFKA_GROUP_ID: `segmentation-replay-${run}` }));
    try {
      const memberships = async (inSchema: string, keys: string[]) => {
        const rows = await database.query<{ key: string; value: { memberships?: unknown; erased?: string } }>(
          `SELECT key, value FROM "${inSchema}".state_entries WHERE store = 'profiles' AND key = ANY($1::text[]) ORDER BY key`,
          [keys],
        );
        // Not the segment of segments: the harness's definitions topic has two partitions, so a follower reading it
        // from the start may meet vip before the segments it names and refuse it (deploy/local/stack.ts creates it
        // with the test partition count; writeRelease assumes one partition). The live run proves it (the seeds test).
        const withoutVip = (memberships: Record<string, unknown>) => Object.fromEntries(Object.entries(memberships).filter(([segmentId]) => segmentId !== id.vip));
        return rows.rows.map((row) => [row.key, row.value.memberships ? withoutVip(row.value.memberships as Record<string, unknown>) : row.value]);
      };
      const keys = (await database.query<{ key: string }>(`SELECT key FROM "${schema}".state_entries WHERE store = 'profiles'`)).rows.map((row) => row.key).filter((key) => created.has(key));
      expect(keys.length).toBeGreaterThanOrEqual(7);
      // Both services are live: timers still due fire in both. Wait (bounded) until the replay caught up.
      let original = await memberships(schema, keys);
      let replayed = await memberships(replaySchema, keys);
      for (const deadline = Date.now() + 30_000; JSON.stringify(replayed) !== JSON.stringify(original) && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        original = await memberships(schema, keys);
        replayed = await memberships(replaySchema, keys);
      }
      expect(replayed).toEqual(original);

      // Every change of these profiles is on the changes topic twice, once per run, with the same id: the replay
      // decided the same things at the same (event or due) times — none new, none missing. Not for an erased profile:
      // its erasure is on another topic, which a replay may read before the events it followed, and an erased
      // customer's history is rightly not derived again.
      const erased = new Set(original.filter(([, value]) => typeof value === 'object' && value !== null && 'erased' in value).map(([key]) => key));
      expect(erased.size).toBe(1);
      const live = keys.filter((key) => !erased.has(key));
      const changes = await readTopic(kafkaBrokers, Topics.segmentChanges.name, Number.MAX_SAFE_INTEGER, 5_000, (record) => live.includes(record.key?.toString() ?? ''));
      const counts = new Map<string, number>();
      for (const change of changes.map((record) => json<SegmentChangeRecord>(record)).filter((change) => change.segmentId !== id.vip)) counts.set(change.changeId, (counts.get(change.changeId) ?? 0) + 1);
      expect(counts.size).toBeGreaterThanOrEqual(12);
      expect([...counts].filter(([, count]) => count !== 2)).toEqual([]);
    } finally {
      await replay.stop();
      await database.end();
    }
  });

  it('a profile-model definition: its consent event opts in, and publishing or removing it backfills what it changes (double opt-in)', async () => {
    const pending = randomUUID();
    const now = Date.now();
    await send([track(pending, 'Subscribed', now)]);
    expect((await updatesOf(pending, 1)).map(changeSummary)).toEqual([[`enter ${id.pending}`]]);
    try {
      await segments.publishProfileModel(`consent:\n  doubleOptIn: []\n  events:\n    Opted In ${run}:\n      signal: grant\n      purposes: [email.marketing]`);
      // Without double opt-in, the pending opt-in is a subscription: the backfill moves her, with cause backfill.
      const [, backfilled] = await updatesOf(pending, 2);
      expect(backfilled.input).toMatchObject({ kind: 'backfill' });
      expect(changeSummary(backfilled).sort()).toEqual([`enter ${id.subscribers}`, `exit ${id.pending}`]);
      expect(backfilled.changes.every((change) => change.cause.kind === 'backfill')).toBe(true);
      // The model's own consent event opts a new profile in, live.
      const optedIn = randomUUID();
      await send([track(optedIn, `Opted In ${run}`, Date.now())]);
      expect((await updatesOf(optedIn, 1)).map(changeSummary)).toEqual([[`enter ${id.subscribers}`]]);
    } finally {
      await segments.withdrawProfileModel();
    }
    // Removed: double opt-in again, so the unconfirmed opt-in is pending again.
    const [, , restored] = await updatesOf(pending, 3);
    expect(changeSummary(restored).sort()).toEqual([`enter ${id.pending}`, `exit ${id.subscribers}`]);
  });

  it("a customer active while a new segment is backfilled enters it by the backfill, not by her event (no journey starts for existing members)", async () => {
    // 5,000 stored profiles on the pro plan, and hers the last key of the last partition: the backfill's pages reach
    // her long after her next event does.
    const now = Date.now();
    const pro = (profileId: string) => event(profileId, now, { type: 'identify', traits: { plan: 'pro' } });
    const seeded = Array.from({ length: 5_000 }, () => randomUUID());
    let active = '';
    while (!active || keyPartition(active, PARTITIONS) !== PARTITIONS - 1) active = `ffffffff-ffff-4fff-bfff-${randomUUID().slice(-12)}`;
    await send([...seeded.map(pro), pro(active)]);
    await updatesOf(active, 1);
    const proPlan = `pro-plan-${run}`;
    own.add(proPlan);
    await segments.publish({ [proPlan]: { trait: 'plan', equals: 'pro' } });
    // The release is in force once its backfill has begun (a first seeded profile entered): only then is her event
    // one that meets the new segment — sent earlier, it could be applied under the old release.
    const seededIds = new Set<string>(seeded);
    await readTopic(kafkaBrokers, Topics.profileUpdates.name, 1, 60_000, (record) => seededIds.has(record.key?.toString() ?? '') && json<ProfileUpdateRecord>(record).input.kind === 'backfill');
    await send([track(active, 'Product Viewed', now + 1_000)]);
    // The backfill's update first (caught up before her event, with cause backfill), then her event's, which changes nothing.
    const updates = await updatesOf(active, 3);
    expect(updates.map((update) => [update.input.kind, changeSummary(update)])).toEqual([
      ['event', []],
      ['backfill', [`enter ${proPlan}`]],
      ['event', []],
    ]);
    expect(updates[1].changes).toEqual([expect.objectContaining({ segmentId: proPlan, change: 'enter', cause: { kind: 'backfill' } })]);
  });
});
