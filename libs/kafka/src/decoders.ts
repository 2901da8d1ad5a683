import { DeadLetterReason, describeIssues, SchemaValidator } from '@kairos/contracts';
import { ConsumedRecord } from './record';

export type DecodeResult<T> = { ok: true; data: T } | { ok: false; reason: DeadLetterReason; detail: string };

/** Turns a record's bytes into the handler's input, or says why it cannot (the record is then dead-lettered). */
export type RecordDecoder<T> = (record: ConsumedRecord) => DecodeResult<T>;

/** Hands the bytes through: for consumers that must judge bad input themselves (the intake rejects, not DLQs). */
export const rawDecoder: RecordDecoder<Buffer | null> = (record) => ({ ok: true, data: record.value });

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 JSON, optionally checked against a schema of the contracts. */
export function jsonDecoder<T>(validator?: SchemaValidator, schemaId?: string): RecordDecoder<T> {
  return (record) => {
    if (!record.value) return { ok: false, reason: 'undecodable', detail: 'empty value' };
    let data: unknown;
    try {
      data = JSON.parse(utf8.decode(record.value));
    } catch (error) {
      return { ok: false, reason: 'undecodable', detail: `not UTF-8 JSON: ${(error as Error).message}` };
    }
    if (validator && schemaId) {
      const result = validator.validate<T>(schemaId, data);
      if (!result.valid) return { ok: false, reason: 'schema_violation', detail: describeIssues(result.issues) };
    }
    return { ok: true, data: data as T };
  };
}
