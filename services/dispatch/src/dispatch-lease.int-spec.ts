import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmailDispatchRequest, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { connectKafka, endOffsets, RecordProducer } from '@kairos/kafka';
import { freePort, RunningSmtpSink, startSmtpSink } from '@kairos/local-stack';
import { readMails, ServiceProcess, serviceTestEnv, startServiceProcess, testStack } from '@kairos/testing';

/**
 * A mail waits in the SMTP pool's queue longer than a delivery's lease (a relay at one mail a second, a 5 s lease):
 * its lease is renewed while it waits, so no claim takes it for abandoned and sends it again.
 */
describe('dispatch: mails queued for longer than their lease', () => {
  const { kafkaBrokers } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'dispatch-lease-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const run = randomUUID().slice(0, 8);
  const mailDir = mkdtempSync(join(tmpdir(), 'kairos-dispatch-lease-'));
  let sink: RunningSmtpSink;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    sink = await startSmtpSink({ smtpPort: await freePort(), httpPort: await freePort(), mailDir, closeTimeoutMs: 500 });
    const release = await publishFolder(kafka, resolve(__dirname, '../../../definitions/shop'), { user: 'dispatch-lease-int-spec', host: 'test', tool: 'jest' }, { write: true });
    expect(release.errors).toEqual([]);
    await producer.connect();
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await producer.disconnect();
    await sink?.stop();
    rmSync(mailDir, { recursive: true, force: true });
  });

  it('sends each mail once although the last wait three times their lease in the queue', async () => {
    const groupId = `dispatch-lease-${run}`;
    const env = await serviceTestEnv({
      DATABASE_SCHEMA: `dispatch_lease_${run}`,
      KAFKA_GROUP_ID: groupId,
      SMTP_URL: sink.smtpUrl,
      SMTP_POOL_CONNECTIONS: '1',
      SMTP_RATE_PER_SECOND: '1',
      DISPATCH_SIGNING_KEYS: JSON.stringify({ current: { id: 'k1', secret: 'dispatch-lease-spec-secret-of-32-bytes-or-more' }, previous: [] }),
      DISPATCH_LEASE_SECONDS: '5',
      // A row taken for abandoned is retried at once, so a second copy would be queued before the marker below.
      DISPATCH_RETRY_INITIAL_MS: '500',
    });
    // The requests topic is shared with the other tests: this group starts at its end.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await endOffsets(kafka, Topics.dispatchRequests.name);
    await admin.setOffsets({ groupId, topic: Topics.dispatchRequests.name, partitions: [...ends].map(([partition, end]) => ({ partition, offset: end.toString() })) });
    await admin.disconnect();
    service = await startServiceProcess('dispatch', Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)), Number(env.HEALTH_PORT));

    const request = (n: number): EmailDispatchRequest => ({
      dispatchId: `lease-${run}-${n}`,
      profileId: `profile-${run}-${n}`,
      requestedAt: new Date().toISOString(),
      reason: { trigger: 'double-opt-in', consent: { channel: 'email', purpose: 'transactional', status: 'not-required' } },
      channel: 'email',
      purpose: 'transactional',
      templateId: 'confirm-subscription',
      context: { profile: { firstName: 'Anna', email: `lease-${run}-${n}@example.ch` } },
    });
    /** The Message-IDs of this test's mails in the sink (one per copy received). */
    const received = async () => [...(await readMails(mailDir, /^(.+)$/)).values()].flat().filter((id) => id.includes(`lease-${run}-`));
    const send = (requests: EmailDispatchRequest[]) => producer.send(Topics.dispatchRequests.name, requests.map((value) => ({ key: value.profileId, value: JSON.stringify(value) })));
    const waitForMail = async (n: number) => {
      for (const deadline = Date.now() + 90_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 250))) {
        if ((await received()).includes(`<lease-${run}-${n}@kairos.local>`)) return;
      }
      throw new Error(`mail ${n} did not arrive`);
    };

    // Fifteen at once through one connection at one a second: the last waits ~15 s, three of its 5 s leases.
    await send(Array.from({ length: 15 }, (_, n) => request(n)));
    await waitForMail(14);
    // A marker after them: a copy sent again after a lease ran out would have been queued before it.
    await send([request(99)]);
    await waitForMail(99);
    const all = await received();
    expect(new Set(all).size).toBe(16);
    expect(all).toHaveLength(16);
  }, 150_000);
});
