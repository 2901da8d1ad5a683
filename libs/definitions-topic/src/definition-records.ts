import { DEFINITION_RECORD_SCHEMA, DEFINITION_RECORD_SCHEMA_ID, DefinitionHeaders, DefinitionRecord, describeIssues, SchemaValidator } from '@kairos/contracts';
import { definitionKey, RecordChange, TopicEntry } from '@kairos/definitions';
import { ConsumedRecord, OutgoingRecord } from '@kairos/kafka';

const validator = new SchemaValidator([DEFINITION_RECORD_SCHEMA]);

export type DecodedDefinition = { ok: true; change: RecordChange; version: number } | { ok: false; key: string; reason: string };

/** A record of the definitions topic as a change of the live set, or why it cannot be one. */
export function decodeDefinitionRecord(record: ConsumedRecord): DecodedDefinition {
  const key = record.key?.toString('utf8') ?? '';
  if (!/^(segment|journey|template|partial|profile-model)\/[^/]+$/.test(key)) return { ok: false, key, reason: `key "${key}" is not kind/id` };
  if (record.value === null) return { ok: true, change: { key, record: null }, version: Number(record.headers[DefinitionHeaders.version] ?? 0) };
  let value: unknown;
  try {
    value = JSON.parse(record.value.toString('utf8'));
  } catch {
    return { ok: false, key, reason: 'the value is not JSON' };
  }
  const checked = validator.validate<DefinitionRecord>(DEFINITION_RECORD_SCHEMA_ID, value);
  if (!checked.valid) return { ok: false, key, reason: `not a ${DEFINITION_RECORD_SCHEMA_ID} record: ${describeIssues(checked.issues)}` };
  if (definitionKey(checked.value.kind, checked.value.id) !== key) return { ok: false, key, reason: `the value is ${checked.value.kind}/${checked.value.id}, the key ${key}` };
  return { ok: true, change: { key, record: checked.value }, version: checked.value.version };
}

export interface ReleaseInfo {
  id: string;
  size: number;
}

/** The release a record belongs to; a record another tool wrote without one is a release of its own. */
export function releaseOf(record: ConsumedRecord): ReleaseInfo {
  const id = record.headers[DefinitionHeaders.releaseId];
  const size = Number(record.headers[DefinitionHeaders.releaseSize]);
  return id && Number.isInteger(size) && size > 0 ? { id, size } : { id: `offset-${record.partition}-${record.offset}`, size: 1 };
}

/** The records one publish writes: every change of the release, each carrying the release id and size. */
export function releaseRecords(releaseId: string, changes: ReadonlyArray<{ key: string; toVersion: number; record: DefinitionRecord | null }>): OutgoingRecord[] {
  return changes.map((change, index) => ({
    key: change.key,
    value: change.record ? JSON.stringify(change.record) : null,
    headers: {
      [DefinitionHeaders.releaseId]: releaseId,
      [DefinitionHeaders.releaseSize]: String(changes.length),
      [DefinitionHeaders.releaseIndex]: String(index),
      [DefinitionHeaders.version]: String(change.toVersion),
    },
  }));
}

/** The latest record (or tombstone) per kind/id, as a reader of the whole topic sees it: what a publish plans against. */
export function topicEntries(records: readonly ConsumedRecord[]): Map<string, TopicEntry> {
  const entries = new Map<string, TopicEntry>();
  for (const record of records) {
    const decoded = decodeDefinitionRecord(record);
    if (!decoded.ok) continue;
    const previous = entries.get(decoded.change.key)?.version ?? 0;
    entries.set(decoded.change.key, { record: decoded.change.record, version: Math.max(previous, decoded.version) });
  }
  return entries;
}
