import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishFolder, readDefinitionsTopic, writeRelease } from '@kairos/definitions-topic';
import { KafkaClient } from '@kairos/kafka';

/**
 * Segments of one test file on the shared definitions topic: published as a folder (JSON is YAML), and withdrawn
 * (tombstoned) when the file is done, so the next file's services do not evaluate them too.
 */
export class TestSegments {
  private readonly folder = mkdtempSync(join(tmpdir(), 'kairos-test-segments-'));
  /** The ids of each publish, in order: withdrawn in reverse, one release each, so a segment goes after those naming it. */
  private readonly batches: string[][] = [];

  constructor(
    private readonly kafka: KafkaClient,
    private readonly publisher: string,
  ) {
    mkdirSync(join(this.folder, 'segments'));
  }

  /** Adds (or changes) these segments and publishes the folder; resolves once the release is written. */
  async publish(rules: Record<string, unknown>): Promise<void> {
    for (const [id, rule] of Object.entries(rules)) writeFileSync(join(this.folder, 'segments', `${id}.yaml`), `kind: segment\nid: ${id}\nrule: ${JSON.stringify(rule)}\n`);
    this.batches.push(Object.keys(rules));
    const release = await publishFolder(this.kafka, this.folder, { user: this.publisher, host: 'test', tool: 'jest' }, { write: true });
    if (release.errors.length > 0) throw new Error(`segments refused: ${JSON.stringify(release.errors)}`);
  }

  /** Publishes the deployment's profile model (the YAML after kind and id) with this file's segments. */
  async publishProfileModel(body: string): Promise<void> {
    writeFileSync(join(this.folder, 'profile-model.yaml'), `kind: profile-model\nid: default\n${body}\n`);
    const release = await publishFolder(this.kafka, this.folder, { user: this.publisher, host: 'test', tool: 'jest' }, { write: true });
    if (release.errors.length > 0) throw new Error(`profile model refused: ${JSON.stringify(release.errors)}`);
  }

  /** Tombstones the profile model: the defaults are in force again. */
  async withdrawProfileModel(): Promise<void> {
    rmSync(join(this.folder, 'profile-model.yaml'), { force: true });
    const entry = (await readDefinitionsTopic(this.kafka)).get('profile-model/default');
    if (entry?.record) await writeRelease(this.kafka, [{ key: 'profile-model/default', action: 'remove', fromVersion: entry.version, toVersion: entry.version + 1, record: null }]);
  }

  /** Tombstones every segment this file published: the last published first, one release per publish. */
  async withdraw(): Promise<void> {
    for (const batch of [...this.batches].reverse()) {
      const topic = await readDefinitionsTopic(this.kafka);
      const changes = batch.flatMap((id) => {
        const entry = topic.get(`segment/${id}`);
        return entry?.record ? [{ key: `segment/${id}`, action: 'remove' as const, fromVersion: entry.version, toVersion: entry.version + 1, record: null }] : [];
      });
      if (changes.length > 0) await writeRelease(this.kafka, changes);
    }
    rmSync(this.folder, { recursive: true, force: true });
  }
}
