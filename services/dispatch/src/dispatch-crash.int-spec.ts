import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeliveryOutcomeRecord, EmailDispatchRequest, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { connectKafka, endOffsets, RecordProducer } from '@kairos/kafka';
import { freePort, RunningSmtpSink, startSmtpSink, StoredMessage } from '@kairos/local-stack';
import { readMails, readTopic, ServiceProcess, serviceTestEnv, startServiceProcess, testStack } from '@kairos/testing';

/**
 * The documented crash window of dispatch, with a real kill -9: the SMTP sink accepts the mail (its 250 is on the
 * wire) and the dispatch process is killed at that moment, before or while it writes `sent`. Whichever it managed,
 * the contract holds: the mail is not lost, the row ends `sent` once, and a second copy — sent after the lease
 * because the answer was never recorded — carries the same Message-ID.
 */
describe('dispatch killed -9 between the SMTP acceptance and the write of sent', () => {
  const { kafkaBrokers } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'dispatch-crash-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const run = randomUUID().slice(0, 8);
  const mailDir = mkdtempSync(join(tmpdir(), 'kairos-dispatch-crash-'));
  const address = `window-${run}@example.ch`;
  let sink: RunningSmtpSink;
  let service: ServiceProcess | undefined;
  let killed: Promise<void> | undefined;

  beforeAll(async () => {
    sink = await startSmtpSink({
      smtpPort: await freePort(),
      httpPort: await freePort(),
      mailDir,
      closeTimeoutMs: 500,
      // Called as the message is accepted; the 250 is written right after it returns, and the kill lands then.
      onMessage: (message: StoredMessage) => {
        if (killed || !message.envelope.to.includes(address) || !service) return;
        const victim = service;
        killed = new Promise((resolve) => setImmediate(() => void victim.kill().then(resolve)));
      },
    });
    const release = await publishFolder(kafka, resolve(__dirname, '../../../definitions/shop'), { user: 'dispatch-crash-int-spec', host: 'test', tool: 'jest' }, { write: true });
    expect(release.errors).toEqual([]);
    await producer.connect();
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await producer.disconnect();
    await sink?.stop();
    rmSync(mailDir, { recursive: true, force: true });
  });

  it('sends the mail, records it sent once, and a second copy (if any) has the same Message-ID', async () => {
    const env = await serviceTestEnv({
      DATABASE_SCHEMA: `dispatch_crash_${run}`,
      KAFKA_GROUP_ID: `dispatch-crash-${run}`,
      SMTP_URL: sink.smtpUrl,
      DISPATCH_SIGNING_KEYS: JSON.stringify({ current: { id: 'k1', secret: 'dispatch-crash-spec-secret-of-32-bytes-or-more' }, previous: [] }),
      DISPATCH_LEASE_SECONDS: '5',
      DISPATCH_RETRY_INITIAL_MS: '500',
    });
    // The requests topic is shared with the other tests: this group starts at its end, so only this test's request is sent.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await endOffsets(kafka, Topics.dispatchRequests.name);
    await admin.setOffsets({ groupId: `dispatch-crash-${run}`, topic: Topics.dispatchRequests.name, partitions: [...ends].map(([partition, end]) => ({ partition, offset: end.toString() })) });
    await admin.disconnect();
    const start = async () => startServiceProcess('dispatch', Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)), Number(env.HEALTH_PORT));
    service = await start();

    const profileId = `profile-${run}`;
    const request: EmailDispatchRequest = {
      dispatchId: `crash-${run}`,
      profileId,
      requestedAt: new Date().toISOString(),
      reason: { trigger: 'double-opt-in', consent: { channel: 'email', purpose: 'transactional', status: 'not-required' } },
      channel: 'email',
      purpose: 'transactional',
      templateId: 'confirm-subscription',
      context: { profile: { firstName: 'Anna', email: address } },
    };
    await producer.send(Topics.dispatchRequests.name, [{ key: profileId, value: JSON.stringify(request) }]);

    for (const deadline = Date.now() + 30_000; !killed && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(killed).toBeDefined();
    await killed;
    service = await start(); // the same schema and group: the row is found again when its lease ends

    const isSent = (outcome: DeliveryOutcomeRecord) => outcome.dispatchId === request.dispatchId && outcome.kind === 'sent';
    const [sent] = await readTopic(kafkaBrokers, Topics.deliveryOutcomes.name, 1, 60_000, (record) => isSent(JSON.parse(record.value?.toString() ?? '{}')));
    expect(sent).toBeDefined();
    const copies = [...(await readMails(mailDir, /^(.+)$/, address)).values()].flat();
    expect(copies.length).toBeGreaterThanOrEqual(1);
    expect(copies.length).toBeLessThanOrEqual(2);
    expect(new Set(copies)).toEqual(new Set([`<${request.dispatchId}@kairos.local>`]));
    // Which side of the window the kill landed on (both are the contract): 'sent' written before the kill gives one
    // copy and the outcomes queued and sent; a second copy follows an 'interrupted' retry: queued, retried, sent.
    const expected = copies.length === 1 ? ['queued', 'sent'] : ['queued', 'retried', 'sent'];
    const read = async (count: number) =>
      (await readTopic(kafkaBrokers, Topics.deliveryOutcomes.name, count, 30_000, (record) => JSON.parse(record.value?.toString() ?? '{}').dispatchId === request.dispatchId)).map(
        (record) => JSON.parse(record.value?.toString() ?? '{}') as DeliveryOutcomeRecord,
      );
    // A relay killed while publishing may publish a record twice, with its one outcomeId: count facts, not records.
    let facts = new Map((await read(expected.length)).map((outcome) => [outcome.outcomeId, outcome.kind]));
    if (facts.size < expected.length) facts = new Map((await read(expected.length + 1)).map((outcome) => [outcome.outcomeId, outcome.kind]));
    expect([...facts.values()].sort()).toEqual(expected.sort());
    process.stderr.write(`crash window: ${copies.length} cop${copies.length === 1 ? 'y' : 'ies'}, ${copies.length === 2 ? 'sent again after the lease' : "'sent' was written before the kill"}\n`);
  }, 120_000);
});
