import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefinitionHeaders, TopicSpec } from '@kairos/contracts';
import { DefinitionSet } from '@kairos/definitions';
import { connectKafka, ensureTopics, RecordProducer } from '@kairos/kafka';
import { testStack, uniqueName } from '@kairos/testing';
import { DefinitionsFollower } from './definitions-follower';

const ROOT = join(__dirname, '..', '..', '..');
const EXAMPLE = join(ROOT, 'definitions', 'shop');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: the npm bin, a child process, the broker from KAFKA_BROKERS. */
function kairos(topic: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'kairos.js'), ...args], { env: { ...process.env, KAFKA_BROKERS: testStack().kafkaBrokers, KAIROS_DEFINITIONS_TOPIC: topic, KAIROS_PUBLISHER: 'tester' } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function kairosJson<T>(topic: string, ...args: string[]): Promise<{ code: number; body: T }> {
  const result = await kairos(topic, ...args, '--json');
  return { code: result.code, body: JSON.parse(result.stdout) as T };
}

function copyOfExample(): string {
  const directory = mkdtempSync(join(tmpdir(), 'kairos-definitions-'));
  cpSync(EXAMPLE, directory, { recursive: true });
  return directory;
}

/** Resolves when the follower's set satisfies `condition`, checked on every applied release. */
function until(follower: DefinitionsFollower, condition: (set: DefinitionSet) => boolean): Promise<number> {
  const started = Date.now();
  if (condition(follower.current())) return Promise.resolve(0);
  return new Promise((resolve) => follower.onChange((set) => condition(set) && resolve(Date.now() - started)));
}

const version = (set: DefinitionSet, key: string) => set.get(key)?.record.version;

describe('definitions: publishing with the kairos command, following in services', () => {
  const kafka = connectKafka({ brokers: testStack().kafkaBrokers, clientId: 'definitions-int-spec', logLevel: 'error' });
  const topic = uniqueName('definitions');
  const spec: TopicSpec = { name: topic, key: 'kind/id', value: 'kairos:definition.v1', partitions: 1, cleanupPolicy: 'compact', retentionMs: -1, description: 'test' };
  const folder = copyOfExample();
  const followers: DefinitionsFollower[] = [];
  const logs: string[] = [];

  /** The first follower's log lines; later ones log elsewhere, so each refusal is counted once. */
  const startFollower = async () => {
    const lines = followers.length === 0 ? logs : [];
    const follower = new DefinitionsFollower(kafka, { topic, log: (level, message) => lines.push(`${level} ${message}`) });
    followers.push(follower);
    await follower.start();
    return follower;
  };

  beforeAll(async () => {
    await ensureTopics(kafka, [spec], { replicationFactor: 1 });
  });

  afterAll(async () => {
    await Promise.all(followers.map((follower) => follower.stop()));
    rmSync(folder, { recursive: true, force: true });
  });

  it('validate: exit 0 and the definitions for a valid folder; exit 1 and every error with file:line:column for an invalid one', async () => {
    const valid = await kairosJson<{ valid: boolean; definitions: string[] }>(topic, 'validate', folder);
    expect(valid.code).toBe(0);
    expect(valid.body.definitions).toContain('journey/abandoned-cart');

    const broken = copyOfExample();
    try {
      writeFileSync(join(broken, 'journeys', 'birthday.yaml'), readFileSync(join(broken, 'journeys', 'birthday.yaml'), 'utf8').replace('send: birthday', 'send: birthdya'));
      writeFileSync(join(broken, 'journeys', 'win-back.yaml'), readFileSync(join(broken, 'journeys', 'win-back.yaml'), 'utf8').replace('period: 180d', 'period: half a year'));
      const invalid = await kairos(topic, 'validate', broken);
      expect(invalid.code).toBe(1);
      expect(invalid.stdout).toContain('journeys/birthday.yaml:17:11: journey birthday names template "birthdya", which does not exist');
      expect(invalid.stdout).toContain('journeys/win-back.yaml:11:11: reentry.period: "half a year" is not a duration');
      expect(invalid.stdout).toContain('2 errors');
      const publish = await kairos(topic, 'publish', broken);
      expect(publish.code).toBe(1);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2 with a pointer to the help; --help shows an example per command', async () => {
    const wrong = await kairos(topic, 'show', 'abandoned-cart');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('"abandoned-cart" is not kind/id');
    const help = await kairos(topic, '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kairos publish definitions/shop');
  });

  it('publish gives version 1, a change gives version 2, an unchanged republish publishes nothing; a running follower applies each change live', async () => {
    const first = await kairosJson<{ published: boolean; changes: Array<{ key: string; action: string; toVersion: number }> }>(topic, 'publish', folder);
    expect(first.code).toBe(0);
    expect(first.body.published).toBe(true);
    expect(first.body.changes).toContainEqual({ key: 'journey/abandoned-cart', action: 'add', toVersion: 1 });

    const follower = await startFollower();
    expect(version(follower.current(), 'journey/abandoned-cart')).toBe(1);
    expect(follower.current().all().length).toBe(first.body.changes.length);

    const cart = join(folder, 'journeys', 'abandoned-cart.yaml');
    writeFileSync(cart, readFileSync(cart, 'utf8').replace('within: 4h', 'within: 2h'));
    const diff = await kairosJson<{ published: boolean; changes: unknown[]; unchanged: string[] }>(topic, 'diff', folder);
    expect(diff.body).toMatchObject({ published: false, changes: [{ key: 'journey/abandoned-cart', action: 'change', fromVersion: 1, toVersion: 2 }] });

    const applied = until(follower, (set) => version(set, 'journey/abandoned-cart') === 2);
    const second = await kairosJson<{ published: boolean; changes: unknown[] }>(topic, 'publish', folder);
    expect(second.body.changes).toEqual([{ key: 'journey/abandoned-cart', action: 'change', fromVersion: 1, toVersion: 2 }]);
    // Applied by the running follower, without a restart. How fast is a figure, not an assertion: its fetch waits at
    // most 200 ms on an idle topic.
    await applied;
    expect(JSON.stringify(follower.current().get('journey/abandoned-cart')?.definition.body)).toContain('"within":"2h"');

    const third = await kairosJson<{ published: boolean; changes: unknown[] }>(topic, 'publish', folder);
    expect(third.body).toMatchObject({ published: false, changes: [] });

    const shown = await kairosJson<{ version: number; hash: string; publishedBy: { user: string; tool: string } }>(topic, 'show', 'journey/abandoned-cart');
    expect(shown.body).toMatchObject({ version: 2, publishedBy: { user: 'tester', tool: 'kairos-cli' } });
    expect(shown.body.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const listed = await kairosJson<Array<{ key: string; version: number }>>(topic, 'list');
    expect(listed.body).toContainEqual(expect.objectContaining({ key: 'journey/abandoned-cart', version: 2 }));

    // A second instance started later reads the same set.
    const later = await startFollower();
    expect(later.current().keys()).toEqual(follower.current().keys());
    expect(version(later.current(), 'journey/abandoned-cart')).toBe(2);
  });

  it('an invalid record put on the topic directly is refused with a reason and the last good version stays', async () => {
    const follower = followers[0];
    const producer = new RecordProducer(kafka);
    await producer.connect();
    const good = follower.current().record('template/birthday')!;
    const refusedLogged = logs.length;
    // Valid as a record, but the template uses a variable its context does not declare; then a marker release.
    await producer.send(topic, [{ key: 'template/birthday', value: JSON.stringify({ ...good, version: good.version + 1, files: good.files.map((file) => (file.path.endsWith('subject.hbs') ? { ...file, text: '{{profile.shoeSize}}' } : file)) }) }]);
    await producer.send(topic, [{ key: 'journey/welcome-series', value: '{not json' }]);
    const marker = until(follower, (set) => set.get('segment/big-spenders')?.record.version === 99);
    await producer.send(topic, [{ key: 'segment/big-spenders', value: JSON.stringify({ ...follower.current().record('segment/big-spenders')!, version: 99 }), headers: { [DefinitionHeaders.version]: '99' } }]);
    await marker;
    await producer.disconnect();
    expect(follower.current().get('template/birthday')?.record.version).toBe(good.version);
    expect(follower.current().get('journey/welcome-series')?.record.version).toBe(1);
    const refusals = logs.slice(refusedLogged).filter((line) => line.startsWith('warn') && line.includes('refused'));
    expect(refusals).toEqual([
      expect.stringContaining('the template\'s context cannot provide "profile.shoeSize"'),
      expect.stringContaining('journey/welcome-series: the value is not JSON'),
    ]);
  });

  it('pause marks a journey paused (one version up); remove tombstones, and is refused while a live journey names the definition', async () => {
    const follower = followers[0];
    const paused = until(follower, (set) => set.get('journey/win-back')?.record.status === 'paused');
    const pause = await kairosJson<{ changes: unknown[] }>(topic, 'pause', 'journey/win-back');
    expect(pause).toEqual({ code: 0, body: expect.objectContaining({ changes: [{ key: 'journey/win-back', action: 'pause', fromVersion: 1, toVersion: 2 }] }) });
    await paused;
    // Publishing the folder again does not resume it: a pause is the topic's state, not the folder's.
    expect((await kairosJson<{ changes: unknown[] }>(topic, 'publish', folder)).body.changes).toEqual([]);

    const refused = await kairos(topic, 'remove', 'template/birthday');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('journey birthday names template "birthday", which does not exist');

    const removed = until(follower, (set) => !set.record('journey/birthday') && !set.record('template/birthday'));
    const remove = await kairosJson<{ changes: unknown[] }>(topic, 'remove', 'journey/birthday', 'template/birthday');
    expect(remove.code).toBe(0);
    await removed;
    expect((await kairos(topic, 'show', 'journey/birthday')).stdout).toContain('journey/birthday was removed (version 2)');
    // A removed definition is not brought back by a folder that still has it unless published again: then one version on.
    const republish = await kairosJson<{ changes: unknown[] }>(topic, 'diff', folder);
    expect(republish.body.changes).toContainEqual({ key: 'journey/birthday', action: 'add', toVersion: 3 });

    const later = await startFollower();
    expect(later.current().record('journey/win-back')?.status).toBe('paused');
    expect(later.current().record('journey/birthday')).toBeUndefined();
  });
});
