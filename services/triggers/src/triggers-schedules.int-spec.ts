import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DispatchRequestRecord, ProfileUpdateRecord, Topics } from '@kairos/contracts';
import { publishFolder, readDefinitionsTopic, writeRelease } from '@kairos/definitions-topic';
import { BatchConsumer, connectKafka, rawDecoder, RecordProducer } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { JourneysState } from '@kairos/journeys';
import { applyEvent, buildModelFromRules, emptyProfileState, ProfileEvent } from '@kairos/segmentation';
import { serviceTestEnv, ServiceProcess, startServiceProcess, testStack, uniqueName } from '@kairos/testing';
import { Client } from 'pg';

/**
 * A journey that a profile's state alone starts (inactivity, a recurring date), published after the profile was last
 * seen: triggers schedules every stored profile under it (a schedule pass), so a customer who sends nothing more still
 * gets it; one already inactive for longer when it is published is not mailed at once. Its own service and schema on
 * the harness stack; the journey is withdrawn afterwards and enters only this file's profiles (onlyIf), so other
 * files' services, which follow the same definitions topic, mail no one for it.
 */
describe('triggers: journeys published after the profile was last seen', () => {
  const { kafkaBrokers, databaseUrl } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'triggers-schedules-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const run = randomUUID().slice(0, 8);
  const schema = `triggers_schedules_${run}`;
  const folder = mkdtempSync(join(tmpdir(), 'kairos-triggers-schedules-'));
  const requests: DispatchRequestRecord[] = [];
  const database = new Client({ connectionString: databaseUrl });
  let reader: BatchConsumer | undefined;
  let service: ServiceProcess | undefined;
  let sequence = 0;

  const publish = async () => {
    const release = await publishFolder(kafka, folder, { user: 'triggers-schedules-int-spec', host: 'test', tool: 'jest' }, { write: true });
    expect(release.errors).toEqual([]);
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> => {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  /** The record segmentation would emit for a marker event of a profile last active at `lastActivityAt`. */
  const update = (profileId: string, lastActivityAt: number): ProfileUpdateRecord => {
    const model = buildModelFromRules([]);
    const identify: ProfileEvent = { type: 'identify', timestamp: new Date(lastActivityAt).toISOString(), messageId: `${run}-i${++sequence}`, traits: { email: `${profileId}@example.ch`, scheduleRun: run } };
    const seen: ProfileEvent = { type: 'track', event: 'Product Viewed', timestamp: new Date(lastActivityAt).toISOString(), messageId: `${run}-v${++sequence}` };
    const state = [identify, seen].reduce((current, event) => applyEvent(current, event, model, lastActivityAt).state, emptyProfileState(profileId));
    const marker = { type: 'track', event: `Marker ${run}`, timestamp: new Date().toISOString(), messageId: `${run}-m${++sequence}`, profileId };
    // The marker's own time is left out of the state: the profile was last active at lastActivityAt.
    return { updateId: `${profileId}/${marker.messageId}`, profileId, at: marker.timestamp, input: { kind: 'event', event: marker as never }, state: state as never, segments: {}, changes: [] };
  };
  const stateOf = async (profileId: string): Promise<JourneysState | undefined> =>
    (await database.query<{ value: JourneysState }>(`SELECT value FROM ${schema}.state_entries WHERE store = 'journeys' AND key = $1`, [profileId])).rows[0]?.value;

  beforeAll(async () => {
    mkdirSync(join(folder, 'journeys'), { recursive: true });
    for (const name of ['marker', 'comeback']) {
      mkdirSync(join(folder, 'templates', `${name}-${run}`), { recursive: true });
      writeFileSync(join(folder, 'templates', `${name}-${run}`, 'template.yaml'), `kind: template\nid: ${name}-${run}\nchannel: email\npurpose: transactional\ncontext: {}\n`);
      writeFileSync(join(folder, 'templates', `${name}-${run}`, 'subject.hbs'), `${name}\n`);
      writeFileSync(join(folder, 'templates', `${name}-${run}`, 'html.hbs'), `<p>${name}</p>\n`);
    }
    writeFileSync(join(folder, 'journeys', `marker-${run}.yaml`), `kind: journey\nid: marker-${run}\ntrigger:\n  event: Marker ${run}\nreentry:\n  allow: always\n  activeInstances: unlimited\nsteps:\n  - send: marker-${run}\n`);
    await publish();
    await producer.connect();
    await database.connect();
    reader = new BatchConsumer(kafka, {
      groupId: uniqueName('triggers-schedules-reader'),
      producer,
      subscriptions: [{ topic: Topics.dispatchRequests.name, decoder: rawDecoder, handler: async (batch) => void requests.push(...batch.map((record) => JSON.parse(record.value?.toString() ?? 'null') as DispatchRequestRecord).filter((request) => request.origin?.journeyId.endsWith(run))) }],
    });
    await reader.start();
    const env = Object.fromEntries(Object.entries(await serviceTestEnv({ DATABASE_SCHEMA: schema, KAFKA_GROUP_ID: `triggers-schedules-${run}` })).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    service = await startServiceProcess('triggers', env, await freePort());
  }, 120_000);

  afterAll(async () => {
    // Withdrawn, so the services of the files after this one do not schedule their profiles under it.
    const topic = await readDefinitionsTopic(kafka);
    const entry = topic.get(`journey/comeback-${run}`);
    if (entry?.record) await writeRelease(kafka, [{ key: `journey/comeback-${run}`, action: 'remove', fromVersion: entry.version, toVersion: entry.version + 1, record: null }]);
    await service?.stop();
    await reader?.stop();
    await producer.disconnect();
    await database.end();
    rmSync(folder, { recursive: true, force: true });
  });

  it('an inactivity journey published later reaches a profile that sends nothing more; one inactive for longer already is not mailed at once', async () => {
    const quiet = randomUUID();
    const gone = randomUUID();
    const lastActive = Date.now();
    await producer.send(Topics.profileUpdates.name, [update(quiet, lastActive), update(gone, lastActive - 3_600_000)].map((value) => ({ key: value.profileId, value: JSON.stringify(value) })));
    // Both stored: their markers are out.
    await waitFor('the markers', () => (requests.filter((request) => request.origin?.journeyId === `marker-${run}`).length >= 2 ? true : undefined));

    // Published now; neither profile sends anything again.
    writeFileSync(join(folder, 'journeys', `comeback-${run}.yaml`), `kind: journey\nid: comeback-${run}\ntrigger:\n  inactiveFor: 40s\n  onlyIf:\n    trait: scheduleRun\n    equals: ${run}\nsteps:\n  - send: comeback-${run}\n`);
    await publish();

    // 40 s after her last activity (the markers, the publish and the pass take some of them on a busy machine).
    const comeback = await waitFor('the comeback mail', () => requests.find((request) => request.profileId === quiet && request.origin?.journeyId === `comeback-${run}`), 90_000);
    expect(Date.parse(comeback.requestedAt)).toBeGreaterThanOrEqual(lastActive + 40_000);
    // Inactive for an hour when the journey came: scheduled as past, not mailed.
    const state = await waitFor('the long-gone profile scheduled', async () => (await stateOf(gone))?.inactivity[`comeback-${run}`]);
    expect(state).toMatchObject({ since: lastActive - 3_600_000, fired: true });
    expect(requests.filter((request) => request.profileId === gone && request.origin?.journeyId === `comeback-${run}`)).toEqual([]);
  }, 150_000);
});
