import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_TOPICS, deadLetterTopic, ProfileUpdateRecord, ResolvedEvent, SegmentChangeRecord, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { BatchConsumer, connectKafka, endOffsets, ensureTopics, rawDecoder, RecordProducer } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { ServiceProcess, startControlledStack, startServiceProcess } from '@kairos/testing';

/**
 * Segmentation as a process of its own, on a broker and a PostgreSQL of this test's own, while a stream of resolved
 * events flows: PostgreSQL stopped for 20 s mid-stream. The service waits (not ready, lag grows) and resumes by
 * itself: every event is on the update stream, every profile entered its segments exactly once, nothing was
 * dead-lettered.
 */
describe('segmentation while PostgreSQL is down', () => {
  const PROFILES = 100;
  const ORDERS_PER_PROFILE = 30; // 3,000 events
  const RATE = 100; // events/s: the stream lasts 30 s, the outage 5 s to 25 s of it

  it('loses nothing and dead-letters nothing when PostgreSQL stops for 20 s mid-stream', async () => {
    const stack = await startControlledStack();
    const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'segmentation-outage-int-spec', logLevel: 'nothing' });
    const producer = new RecordProducer(kafka);
    const folder = mkdtempSync(join(tmpdir(), 'kairos-segmentation-outage-'));
    let service: ServiceProcess | undefined;
    let reader: BatchConsumer | undefined;
    try {
      // The definitions topic keeps its one partition (a release is read in order); the profile topics get two.
      await ensureTopics(kafka, [Topics.definitions]);
      await ensureTopics(kafka, ALL_TOPICS, { partitions: 2 });
      await producer.connect();
      mkdirSync(join(folder, 'segments'));
      writeFileSync(join(folder, 'segments', 'big-spenders.yaml'), 'kind: segment\nid: big-spenders\nrule: {"aggregate": {"sum": "total", "of": "Order Completed"}, "atLeast": 5000}\n');
      writeFileSync(join(folder, 'segments', 'tenth-purchase.yaml'), 'kind: segment\nid: tenth-purchase\nrule: {"performed": "Order Completed", "atLeast": 10}\n');
      // Topics just created may not have a leader yet: publishing is retried until they do.
      const publish = () => publishFolder(kafka, folder, { user: 'segmentation-outage-int-spec', host: 'test', tool: 'jest' }, { write: true });
      let release: Awaited<ReturnType<typeof publish>> | undefined;
      for (let attempt = 1; !release; attempt++) {
        release = await publish().catch(async (error: Error) => {
          if (attempt >= 20 || !/not the leader|leader/i.test(error.message)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
          return undefined;
        });
      }
      expect(release.errors).toEqual([]);

      const healthPort = await freePort();
      service = await startServiceProcess('segmentation', { KAFKA_BROKERS: stack.kafkaBrokers, DATABASE_URL: stack.databaseUrl, KAFKA_TOPIC_PARTITIONS: '2', TELEMETRY_EXPORTER: 'prometheus' }, healthPort);
      const readiness = async () => {
        const response = await fetch(`http://127.0.0.1:${healthPort}/health/ready`);
        return { status: response.status, database: ((await response.json()) as { checks: Record<string, string> }).checks['database'] === 'ok' ? 'ok' : 'failing' };
      };

      // What the service publishes: the updates (by id: a copy published again is the same update) and the changes.
      const updates = new Set<string>();
      const changes = new Map<string, SegmentChangeRecord>();
      reader = new BatchConsumer(kafka, {
        groupId: 'segmentation-outage-reader',
        producer,
        subscriptions: [
          {
            topic: Topics.profileUpdates.name,
            decoder: rawDecoder,
            handler: async (records) => {
              for (const record of records) if (record.value) updates.add((JSON.parse(record.value.toString()) as ProfileUpdateRecord).updateId);
            },
          },
          {
            topic: Topics.segmentChanges.name,
            decoder: rawDecoder,
            handler: async (records) => {
              for (const record of records) if (record.value) changes.set((JSON.parse(record.value.toString()) as SegmentChangeRecord).changeId, JSON.parse(record.value.toString()) as SegmentChangeRecord);
            },
          },
        ],
      });
      await reader.start();

      const t0 = Date.now() - 3_600_000;
      const events: ResolvedEvent[] = Array.from({ length: PROFILES * ORDERS_PER_PROFILE }, (_, index) => {
        const profile = index % PROFILES;
        const step = Math.floor(index / PROFILES);
        const timestamp = new Date(t0 + index).toISOString();
        return {
          type: 'track',
          event: 'Order Completed',
          properties: { total: 200 },
          messageId: `m-${profile}-${step}`,
          sourceId: 'test',
          receivedAt: timestamp,
          timestamp,
          identifiers: { userId: `user-${profile}` },
          profileId: `00000000-0000-4000-8000-${String(profile).padStart(12, '0')}`,
          resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [] },
        };
      });
      const duringOutage: Array<{ status: number; database: string }> = [];
      const streamStart = Date.now();
      const outage = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        const restarted = stack.restart('postgres', 20_000);
        await new Promise((resolve) => setTimeout(resolve, 8_000));
        duringOutage.push(await readiness());
        await restarted;
      })();
      const sends: Array<Promise<void>> = [];
      for (const [index, event] of events.entries()) {
        const wait = streamStart + (index * 1000) / RATE - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        sends.push(producer.publish(Topics.resolved.name, { key: event.profileId, value: JSON.stringify(event) }));
      }
      await Promise.all(sends);
      await outage;
      // Not ready while the database is away (lag grows, nothing is dead-lettered).
      expect(duringOutage).toEqual([{ status: 503, database: 'failing' }]);

      const expected = events.map((event) => `${event.profileId}/event/${event.messageId}`);
      const deadline = Date.now() + 90_000;
      while (expected.some((id) => !updates.has(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      const missing = expected.filter((id) => !updates.has(id));
      expect({ missing: missing.slice(0, 5), count: missing.length }).toEqual({ missing: [], count: 0 });
      // Each profile entered each segment once: the tenth order (10 x 200) and the twenty-fifth (25 x 200 = 5,000).
      const entered = [...changes.values()].map((change) => `${change.segmentId} ${change.change} ${change.cause.kind === 'event' ? change.cause.messageId.replace(/^m-\d+-/, 'order ') : change.cause.kind}`);
      const tally = new Map<string, number>();
      for (const line of entered) tally.set(line, (tally.get(line) ?? 0) + 1);
      expect(Object.fromEntries(tally)).toEqual({ 'tenth-purchase enter order 9': PROFILES, 'big-spenders enter order 24': PROFILES });
      expect((await readiness()).status).toBe(200);

      // A new segment published while PostgreSQL is away: its backfill over the stored profiles fails, and is tried
      // again until the database is back (a profile that sends no event would otherwise never be evaluated).
      const secondOutage = stack.restart('postgres', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      writeFileSync(join(folder, 'segments', 'ordered.yaml'), 'kind: segment\nid: ordered\nrule: {"performed": "Order Completed", "atLeast": 1}\n');
      expect((await publish()).errors).toEqual([]);
      await secondOutage;
      const backfilled = () => [...changes.values()].filter((change) => change.segmentId === 'ordered' && change.change === 'enter' && change.cause.kind === 'backfill').length;
      const backfillDeadline = Date.now() + 90_000;
      while (backfilled() < PROFILES && Date.now() < backfillDeadline) await new Promise((resolve) => setTimeout(resolve, 250));
      expect(backfilled()).toBe(PROFILES);

      const dead = await endOffsets(kafka, deadLetterTopic('kairos-segmentation').name);
      expect([...dead.values()].reduce((sum, end) => sum + end, 0n)).toBe(0n);
    } finally {
      await reader?.stop().catch(() => undefined);
      await service?.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await stack.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 360_000);
});
