import { SegmentEvent } from '@kairos/contracts';
import { IntakeLimits } from './intake-limits';
import { Outcome, reject } from './intake-result';
import { IntakeChannel, inspectEvent } from './inspect-event';
import { exceedsDepth } from './json-depth';

/** One event of a raw record: where it sits in a batch (undefined for a single-event record) and its judgement. */
export interface RawEntry {
  index: number | undefined;
  outcome: Outcome<SegmentEvent>;
  /** The event as JSON text: what a rejection keeps. Empty only for an event too deep to serialise. */
  payload: string;
}

export interface RawPayload {
  entries: RawEntry[];
  /** sentAt of a batch envelope, for events without their own. */
  batchSentAt?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A raw record is one Segment event or one Segment batch envelope ({"batch": [...], "sentAt"?, "context"?,
 * "integrations"?}) — the two JSON shapes SDKs post. The whole record is refused when it cannot be read at all
 * (empty, too large, not UTF-8, not JSON, too many events); otherwise each event is judged on its own.
 */
export function inspectRawRecord(bytes: Uint8Array | null, limits: IntakeLimits, channel: Exclude<IntakeChannel, 'http'>): Outcome<RawPayload> {
  if (!bytes || bytes.length === 0) return reject('invalid_json', 'empty record');
  if (bytes.length > limits.maxBatchBytes) return reject('size_violation', `record is ${bytes.length} bytes; at most ${limits.maxBatchBytes}`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return reject('invalid_encoding', 'not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text); // iterative in V8: no nesting depth can overflow it
  } catch (error) {
    return reject('invalid_json', (error as Error).message);
  }
  if (isBatchEnvelope(value)) {
    if (value.batch.length > limits.maxBatchEvents) return reject('size_violation', `${value.batch.length} events; at most ${limits.maxBatchEvents} per batch`);
    const entries = value.batch.map((event, index) => ({ index, ...judgeEvent(withBatchDefaults(event, value), limits, channel) }));
    return { ok: true, value: { entries, batchSentAt: typeof value['sentAt'] === 'string' ? value['sentAt'] : undefined } };
  }
  if (bytes.length > limits.maxEventBytes) return reject('size_violation', `event is ${bytes.length} bytes; at most ${limits.maxEventBytes}`);
  const judged = judgeEvent(value, limits, channel);
  return { ok: true, value: { entries: [{ index: undefined, outcome: judged.outcome, payload: text }] } };
}

/**
 * One parsed event: depth (checked first, since serialising a deep value would overflow the stack), size of its JSON,
 * then the spec. The collector calls it for each event of a request, the intake for each event of a record.
 */
export function judgeEvent(value: unknown, limits: IntakeLimits, channel: IntakeChannel): { outcome: Outcome<SegmentEvent>; payload: string } {
  if (exceedsDepth(value, limits.maxDepth)) return { outcome: reject('depth_violation', `nested deeper than ${limits.maxDepth}`), payload: '' };
  const payload = JSON.stringify(value) ?? '';
  const bytes = Buffer.byteLength(payload);
  if (bytes > limits.maxEventBytes) return { outcome: reject('size_violation', `event is ${bytes} bytes; at most ${limits.maxEventBytes}`), payload };
  return { outcome: inspectEvent(value, limits, channel), payload };
}

/** Batch-level context and integrations apply to every event, which may override single fields. */
export function withBatchDefaults(event: unknown, batch: Record<string, unknown>): unknown {
  if (!isRecord(event)) return event;
  const merged: Record<string, unknown> = { ...event };
  for (const field of ['context', 'integrations']) {
    if (isRecord(batch[field])) merged[field] = { ...batch[field], ...(isRecord(event[field]) ? event[field] : {}) };
  }
  return merged;
}

export function isBatchEnvelope(value: unknown): value is Record<string, unknown> & { batch: unknown[] } {
  return isRecord(value) && Array.isArray(value['batch']);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
