import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResolvedEvent, SegmentChangeRecord, SchemaIds, SchemaValidator, EVENT_SCHEMAS, ProfileSnapshotRecord, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { ConsumedRecord, connectKafka, RecordProducer } from '@kairos/kafka';
import { RunningService } from '@kairos/service-runtime';
import { readTopic, serviceTestEnv, testStack } from '@kairos/testing';
import { startSegmentation } from './main';

const json = <T>(record: ConsumedRecord): T => JSON.parse(record.value!.toString()) as T;

describe('segmentation against the real stack', () => {
  const { kafkaBrokers } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'segmentation-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const run = randomUUID().slice(0, 8); // segment ids and messageIds of this file carry it
  const bigSpenders = `big-spenders-${run}`;
  const lapsed = `no-order-for-5s-${run}`;
  const folder = mkdtempSync(join(tmpdir(), 'kairos-segmentation-'));
  let service: RunningService | undefined;
  let sequence = 0;

  function order(profileId: string, total: number, at: number): ResolvedEvent {
    sequence += 1;
    const timestamp = new Date(at).toISOString();
    return {
      type: 'track',
      event: 'Order Completed',
      properties: { total },
      messageId: `${run}-m${sequence}`,
      sourceId: 'test',
      receivedAt: timestamp,
      timestamp,
      userId: `user-${run}`,
      identifiers: { userId: `user-${run}` },
      profileId,
      resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [] },
    };
  }

  /** Changes of one profile on the changes topic, waited for until `count` arrived (or 60 s). */
  async function changesOf(profileId: string, count: number): Promise<SegmentChangeRecord[]> {
    const records = await readTopic(kafkaBrokers, Topics.segmentChanges.name, count, 60_000, (record) => record.key?.toString() === profileId);
    return records.map((record) => json<SegmentChangeRecord>(record));
  }

  beforeAll(async () => {
    // Segments with short durations, unique to this run, published on the catalogue's definitions topic (the one the
    // service follows) before the service starts, so they are in force from its first record.
    mkdirSync(join(folder, 'segments'));
    writeFileSync(
      join(folder, 'segments', `${bigSpenders}.yaml`),
      `kind: segment\nid: ${bigSpenders}\nrule:\n  aggregate:\n    sum: total\n    of: Order Completed\n  atLeast: 5000\n`,
    );
    writeFileSync(
      join(folder, 'segments', `${lapsed}.yaml`),
      `kind: segment\nid: ${lapsed}\nrule:\n  all:\n    - performed: Order Completed\n    - notPerformed: Order Completed\n      within: 5s\n`,
    );
    const release = await publishFolder(kafka, folder, { user: 'segmentation-int-spec', host: 'test', tool: 'jest' }, { write: true });
    expect(release.errors).toEqual([]);
    expect(release.releaseId).toBeDefined();
    await producer.connect();
    service = await startSegmentation(await serviceTestEnv({ DATABASE_SCHEMA: `segmentation_${run}`, KAFKA_GROUP_ID: `segmentation-${run}` }));
  });

  afterAll(async () => {
    await service?.stop();
    await producer.disconnect();
    rmSync(folder, { recursive: true, force: true });
  });

  it('events make a profile enter a segment; a time-only segment enters by its durable timer, without a new event', async () => {
    const profileId = randomUUID();
    const first = Date.now();
    const events = [order(profileId, 3_000, first), order(profileId, 2_500, first + 100)];
    await producer.send(Topics.resolved.name, events.map((event) => ({ key: profileId, value: JSON.stringify(event) })));

    // Lifetime spend reaches 5,500 with the second order: enter, caused by that event, at its event time. Five seconds
    // after the last order, with no event since, the profile enters "no order for 5 s": its timer fired.
    const changes = await changesOf(profileId, 2);
    for (const change of changes) expect(validator.validate(SchemaIds.segmentChange, change)).toMatchObject({ valid: true });
    expect(changes.map(({ changeId: _id, ...change }) => change)).toEqual([
      { profileId, segmentId: bigSpenders, version: 1, change: 'enter', at: new Date(first + 100).toISOString(), cause: { kind: 'event', messageId: events[1].messageId } },
      { profileId, segmentId: lapsed, version: 1, change: 'enter', at: expect.any(String), cause: { kind: 'timer' } },
    ]);
    // Not before the five seconds were up (a timer is never early), and close to it (not a periodic scan).
    const entered = Date.parse(changes[1].at);
    expect(entered).toBeGreaterThanOrEqual(first + 100 + 5_000);
    expect(entered).toBeLessThan(first + 100 + 5_000 + 1_000);

    // The latest snapshot says the profile is in both.
    const snapshots = (await readTopic(kafkaBrokers, Topics.profileSnapshots.name, 3, 30_000, (record) => record.key?.toString() === profileId)).map((record) => json<ProfileSnapshotRecord>(record));
    for (const snapshot of snapshots) expect(validator.validate(SchemaIds.profileSnapshot, snapshot)).toMatchObject({ valid: true });
    expect(Object.keys(snapshots[snapshots.length - 1].segments).sort()).toEqual([bigSpenders, lapsed].sort());
  });
});
