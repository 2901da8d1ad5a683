import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_TOPICS, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { connectKafka, ensureTopics } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { ServiceProcess, startControlledStack, startServiceProcess } from '@kairos/testing';
import { Client } from 'pg';

/**
 * Triggers keeps every journey version it saw in force (journey_versions): the definitions topic is compacted, and an
 * instance started on version 1 needs it after a restart. A version first seen while PostgreSQL is down is saved
 * once it is back, without waiting for the journey's next change — by which time it is no longer in force.
 */
describe('journey versions while PostgreSQL is down', () => {
  it('a version published during the outage is saved when PostgreSQL is back, with no further change', async () => {
    const stack = await startControlledStack();
    const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'journey-versions-outage-int-spec', logLevel: 'nothing' });
    const folder = mkdtempSync(join(tmpdir(), 'kairos-journey-versions-outage-'));
    let service: ServiceProcess | undefined;
    const database = new Client({ connectionString: stack.databaseUrl });
    try {
      await ensureTopics(kafka, [Topics.definitions]);
      await ensureTopics(kafka, ALL_TOPICS, { partitions: 2 });
      mkdirSync(join(folder, 'journeys'), { recursive: true });
      mkdirSync(join(folder, 'templates', 'hello'), { recursive: true });
      writeFileSync(join(folder, 'templates', 'hello', 'template.yaml'), 'kind: template\nid: hello\nchannel: email\npurpose: transactional\ncontext: {}\n');
      writeFileSync(join(folder, 'templates', 'hello', 'subject.hbs'), 'Hello\n');
      writeFileSync(join(folder, 'templates', 'hello', 'html.hbs'), '<p>Hello</p>\n');
      const journey = (wait: string) => writeFileSync(join(folder, 'journeys', 'welcome.yaml'), `kind: journey\nid: welcome\ntrigger:\n  event: Signed Up\nsteps:\n  - wait: ${wait}\n  - send: hello\n`);
      // Topics just created may not have a leader yet: publishing is retried until they do.
      const publish = async () => {
        for (let attempt = 1; ; attempt++) {
          const release = await publishFolder(kafka, folder, { user: 'journey-versions-outage-int-spec', host: 'test', tool: 'jest' }, { write: true }).catch(async (error: Error) => {
            if (attempt >= 20 || !/leader/i.test(error.message)) throw error;
            await new Promise((resolve) => setTimeout(resolve, 500));
            return undefined;
          });
          if (release) return expect(release.errors).toEqual([]);
        }
      };
      journey('1d');
      await publish();

      service = await startServiceProcess('triggers', { KAFKA_BROKERS: stack.kafkaBrokers, DATABASE_URL: stack.databaseUrl, KAFKA_TOPIC_PARTITIONS: '2' }, await freePort());
      await database.connect();
      const saved = async () => (await database.query<{ version: number }>("SELECT version FROM triggers.journey_versions WHERE journey_id = 'welcome' ORDER BY version")).rows.map((row) => row.version);
      expect(await saved()).toEqual([1]);
      await database.end();

      // PostgreSQL away for 15 s; version 2 is published 3 s into it, which the service sees at once and cannot save.
      const outage = stack.restart('postgres', 15_000);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      journey('2d');
      await publish();
      await outage;

      const after = new Client({ connectionString: stack.databaseUrl });
      await after.connect();
      try {
        const deadline = Date.now() + 30_000;
        let versions: number[] = [];
        while (Date.now() < deadline) {
          versions = (await after.query<{ version: number }>("SELECT version FROM triggers.journey_versions WHERE journey_id = 'welcome' ORDER BY version")).rows.map((row) => row.version);
          if (versions.length === 2) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(versions).toEqual([1, 2]);
      } finally {
        await after.end();
      }
    } finally {
      await service?.stop();
      await stack.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 180_000);
});
