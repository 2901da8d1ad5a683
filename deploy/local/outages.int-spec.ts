import { ALL_TOPICS, deadLetterTopic, Topics } from '@kairos/contracts';
import { BatchConsumer, committedOffsets, connectKafka, endOffsets, ensureTopics, rawDecoder, RecordProducer } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { ServiceProcess, startControlledStack, startServiceProcess } from '@kairos/testing';

/**
 * Ingestion and identity as processes of their own, on a broker and a PostgreSQL of this test's own (so it can stop
 * them), while a stream of events flows through: kill -9 of each service mid-stream, PostgreSQL down for 20 s, the
 * broker restarted. Afterwards every event is resolved, each to one profile, nothing is dead-lettered or rejected.
 */
describe('outages while ingestion and identity process a stream', () => {
  const CUSTOMERS = 200;
  const EVENTS_PER_CUSTOMER = 40; // 8,000 events
  const RATE = 200; // events/s: the stream lasts 40 s
  const PARTITIONS = 2;

  it('loses nothing, dead-letters nothing and resolves nothing twice differently', async () => {
    const stack = await startControlledStack();
    const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'outages-int-spec', logLevel: 'nothing' });
    const producer = new RecordProducer(kafka);
    const services = new Map<string, ServiceProcess>();
    const readers: BatchConsumer[] = [];
    try {
      await ensureTopics(kafka, ALL_TOPICS, { partitions: PARTITIONS });
      await producer.connect();
      const env = async (name: string): Promise<Record<string, string>> => ({
        KAFKA_BROKERS: stack.kafkaBrokers,
        DATABASE_URL: stack.databaseUrl,
        KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
        TELEMETRY_EXPORTER: 'prometheus',
        COLLECTOR_PORT: String(await freePort()),
        IDENTITY_API_PORT: String(await freePort()),
        KAFKA_CLIENT_ID: `kairos-${name}`,
      });
      const healthPorts = new Map<string, number>();
      const start = async (name: 'ingestion' | 'identity') => {
        const healthPort = await freePort();
        healthPorts.set(name, healthPort);
        services.set(name, await startServiceProcess(name, await env(name), healthPort));
      };
      const readiness = async (name: string) => {
        const response = await fetch(`http://127.0.0.1:${healthPorts.get(name)}/health/ready`);
        return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
      };
      const duringOutage: Array<{ service: string; status: number; database: string | undefined }> = [];
      await start('ingestion');
      await start('identity');

      // What identity publishes: messageId -> the profile ids it was resolved to (a set: a repeat must not differ),
      // and loser -> survivor of every merge (a customer's page views and orders sit on different partitions, so the
      // order they are resolved in varies, and with it whether two profiles form first and merge later).
      const resolved = new Map<string, Set<string>>();
      const merges = new Map<string, string>();
      const reader = new BatchConsumer(kafka, {
        groupId: 'outages-reader',
        producer,
        log: (level, message) => console.error(`outages-reader ${level}: ${message}`),
        subscriptions: [
          {
            topic: Topics.resolved.name,
            decoder: rawDecoder,
            handler: async (records) => {
              for (const record of records) {
                const event = JSON.parse(record.value!.toString()) as { messageId: string; profileId: string };
                resolved.set(event.messageId, (resolved.get(event.messageId) ?? new Set()).add(event.profileId));
              }
            },
          },
          {
            topic: Topics.merges.name,
            decoder: rawDecoder,
            handler: async (records) => {
              for (const record of records) {
                if (record.value) merges.set(record.key!.toString(), (JSON.parse(record.value.toString()) as { survivorId: string }).survivorId);
              }
            },
          },
        ],
      });
      readers.push(reader);
      await reader.start();

      // Each customer: anonymous page views, an identify joining the browser to the user and the e-mail, then orders.
      const events = Array.from({ length: CUSTOMERS * EVENTS_PER_CUSTOMER }, (_, index) => {
        const customer = index % CUSTOMERS;
        const step = Math.floor(index / CUSTOMERS);
        const messageId = `m-${customer}-${step}`;
        if (step < 3) return { type: 'page', anonymousId: `anon-${customer}`, name: 'Home', messageId };
        if (step === 3) return { type: 'identify', userId: `user-${customer}`, anonymousId: `anon-${customer}`, traits: { email: `c${customer}@example.ch` }, messageId };
        return { type: 'track', userId: `user-${customer}`, event: 'Order Completed', properties: { total: step }, messageId };
      });
      // Printed when events are missing: which stage holds them (end offsets against each group's commits) and what
      // each service says of itself.
      const whereItStands = async (): Promise<string> => {
        const lines: string[] = [];
        for (const [topic, groupId] of [[Topics.raw.name, 'kairos-ingestion'], [Topics.accepted.name, 'kairos-identity'], [Topics.resolved.name, 'outages-reader']] as const) {
          const ends = await endOffsets(kafka, topic);
          const commits = await committedOffsets(kafka, groupId, topic);
          const list = (offsets: Map<number, bigint>) => [...offsets].map(([partition, offset]) => `${partition}:${offset}`).join(' ');
          lines.push(`${topic}: end ${list(ends)}, ${groupId} committed ${list(commits)}`);
        }
        for (const service of ['ingestion', 'identity']) lines.push(`${service}: ${JSON.stringify(await readiness(service).catch((error: Error) => error.message))}`);
        return lines.join('\n');
      };
      const faults: string[] = [];
      const schedule: Array<[number, string, () => Promise<void>]> = [
        [5_000, 'kill -9 ingestion and restart it', async () => {
          await services.get('ingestion')!.kill();
          await start('ingestion');
        }],
        [10_000, 'PostgreSQL down for 20 s', async () => {
          const outage = stack.restart('postgres', 20_000);
          await new Promise((resolve) => setTimeout(resolve, 8_000));
          for (const service of ['ingestion', 'identity']) {
            const { status, checks } = await readiness(service);
            duringOutage.push({ service, status, database: checks['database'] === 'ok' ? 'ok' : checks['database'] && 'failing' });
          }
          await outage;
        }],
        [32_000, 'kill -9 identity and restart it', async () => {
          await services.get('identity')!.kill();
          await start('identity');
        }],
        [36_000, 'restart the broker', () => stack.restart('kafka', 2_000)],
      ];
      const streamStart = Date.now();
      const faultsDone = (async () => {
        for (const [at, what, fault] of schedule) {
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, streamStart + at - Date.now())));
          faults.push(`${what} at ${((Date.now() - streamStart) / 1000).toFixed(1)} s`);
          await fault();
        }
      })();
      const sends: Array<Promise<void>> = [];
      for (const [index, event] of events.entries()) {
        const wait = streamStart + (index * 1000) / RATE - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        sends.push(producer.publish(Topics.raw.name, { key: event.userId ?? event.anonymousId, value: JSON.stringify(event) }));
      }
      await Promise.all(sends);
      await faultsDone;
      expect(faults).toHaveLength(4);
      // Not ready while the database is away (lag grows, nothing is dead-lettered), ready again afterwards.
      expect(duringOutage).toEqual([
        { service: 'ingestion', status: 503, database: 'failing' },
        { service: 'identity', status: 503, database: 'failing' },
      ]);

      const deadline = Date.now() + 120_000;
      while (resolved.size < events.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      const missing = events.filter((event) => !resolved.has(event.messageId)).map((event) => event.messageId);
      if (missing.length > 0) console.error(`events missing; where the stream stands:\n${await whereItStands()}`);
      expect({ missing: missing.slice(0, 10), count: missing.length }).toEqual({ missing: [], count: 0 });
      const differing = [...resolved].filter(([, profiles]) => profiles.size > 1);
      expect(differing).toEqual([]);
      // One profile per customer once merges are followed, whatever crashed or waited in between.
      const survivor = (profileId: string): string => (merges.has(profileId) ? survivor(merges.get(profileId)!) : profileId);
      for (let customer = 0; customer < CUSTOMERS; customer++) {
        const profiles = new Set(events.filter((_, index) => index % CUSTOMERS === customer).map((event) => survivor([...resolved.get(event.messageId)!][0]!)));
        expect({ customer, profiles: profiles.size }).toEqual({ customer, profiles: 1 });
      }
      for (const service of ['ingestion', 'identity']) expect({ service, status: (await readiness(service)).status }).toEqual({ service, status: 200 });
      // Dead letters and rejections are produced before the records that caused them are committed; all are done.
      for (const topic of [deadLetterTopic('kairos-ingestion').name, deadLetterTopic('kairos-identity').name, Topics.rejected.name]) {
        const ends = await endOffsets(kafka, topic);
        expect({ topic, records: [...ends.values()].reduce((sum, end) => sum + end, 0n) }).toEqual({ topic, records: 0n });
      }
    } finally {
      for (const reader of readers) await reader.stop().catch(() => undefined);
      for (const service of services.values()) await service.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await stack.stop();
    }
  }, 300_000);
});
