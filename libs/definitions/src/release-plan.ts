import { DefinitionRecord } from '@kairos/contracts';
import { contentHash } from './content-hash';
import { Definition } from './definition';

/** Who publishes from where; recorded on every record. */
export interface Publisher {
  user: string;
  host: string;
  tool: string;
  directory?: string;
  gitCommit?: string;
}

/** What the topic holds for a kind/id: its latest record, or the version its tombstone carried. */
export interface TopicEntry {
  record: DefinitionRecord | null;
  version: number;
}

export type ChangeAction = 'add' | 'change' | 'remove' | 'pause' | 'resume';

export interface PlannedChange {
  key: string;
  action: ChangeAction;
  fromVersion?: number;
  toVersion: number;
  record: DefinitionRecord | null;
}

export interface PublishPlan {
  changes: PlannedChange[];
  unchanged: string[];
  /** Live, but not in the folder: kept. Only `kairos remove` removes. */
  liveOnly: string[];
}

/** The records publishing a folder writes: new and changed definitions only, each one version up. */
export function planPublish(folder: readonly Definition[], topic: ReadonlyMap<string, TopicEntry>, by: Publisher, now: Date): PublishPlan {
  const changes: PlannedChange[] = [];
  const unchanged: string[] = [];
  for (const definition of folder) {
    const current = topic.get(definition.key);
    const hash = contentHash(definition.files);
    if (current?.record?.hash === hash) {
      unchanged.push(definition.key);
      continue;
    }
    const toVersion = (current?.version ?? 0) + 1;
    changes.push({
      key: definition.key,
      action: current?.record ? 'change' : 'add',
      fromVersion: current?.record ? current.version : undefined,
      toVersion,
      record: {
        kind: definition.kind,
        id: definition.id,
        version: toVersion,
        hash,
        // A pause is the topic's state, not the folder's: publishing a paused journey's new text keeps it paused.
        status: current?.record?.status ?? 'active',
        publishedAt: now.toISOString(),
        publishedBy: by,
        files: definition.files.map((file) => ({ path: file.path, text: file.text })),
      },
    });
  }
  const inFolder = new Set(folder.map((definition) => definition.key));
  const liveOnly = [...topic].filter(([key, entry]) => entry.record && !inFolder.has(key)).map(([key]) => key).sort();
  return { changes, unchanged, liveOnly };
}

/** Pausing or resuming: the live record again, one version up, with the new status. */
export function planStatus(keys: readonly string[], status: 'active' | 'paused', topic: ReadonlyMap<string, TopicEntry>, by: Publisher, now: Date): { changes: PlannedChange[]; problems: string[] } {
  const changes: PlannedChange[] = [];
  const problems: string[] = [];
  for (const key of keys) {
    const current = topic.get(key)?.record;
    if (!current) problems.push(`${key} is not live`);
    else if (current.kind !== 'journey') problems.push(`${key}: only journeys can be paused or resumed`);
    else if (current.status !== status) {
      const toVersion = current.version + 1;
      changes.push({ key, action: status === 'paused' ? 'pause' : 'resume', fromVersion: current.version, toVersion, record: { ...current, version: toVersion, status, publishedAt: now.toISOString(), publishedBy: by } });
    }
  }
  return { changes, problems };
}

export function planRemoval(keys: readonly string[], topic: ReadonlyMap<string, TopicEntry>): { changes: PlannedChange[]; problems: string[] } {
  const changes: PlannedChange[] = [];
  const problems: string[] = [];
  for (const key of keys) {
    const current = topic.get(key);
    if (!current?.record) problems.push(`${key} is not live`);
    else changes.push({ key, action: 'remove', fromVersion: current.version, toVersion: current.version + 1, record: null });
  }
  return { changes, problems };
}
