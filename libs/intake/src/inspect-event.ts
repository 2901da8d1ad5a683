import { describeIssues, EVENT_SCHEMAS, SchemaIds, SchemaValidator, SegmentEvent } from '@kairos/contracts';
import { IntakeLimits } from './intake-limits';
import { Outcome, reject } from './intake-result';
import { jsonDepth } from './json-depth';

const validator = new SchemaValidator(EVENT_SCHEMAS);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes of one event (a raw Kafka record) -> a valid Segment event, or the first reason it is not one. */
export function inspectEventBytes(bytes: Uint8Array | null, limits: IntakeLimits): Outcome<SegmentEvent> {
  if (!bytes || bytes.length === 0) return reject('invalid_json', 'empty record');
  if (bytes.length > limits.maxEventBytes) return reject('size_violation', `event is ${bytes.length} bytes; at most ${limits.maxEventBytes}`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return reject('invalid_encoding', 'not valid UTF-8');
  }
  const depth = jsonDepth(text);
  if (depth > limits.maxDepth) return reject('depth_violation', `nested ${depth} deep; at most ${limits.maxDepth}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return reject('invalid_json', (error as Error).message);
  }
  return inspectEvent(value, limits);
}

/**
 * A parsed value -> a valid Segment event, or the reason it is not one. The HTTP collector calls this for each event
 * of a batch it already parsed; size and depth were checked there on the whole body and on each re-serialised event.
 */
export function inspectEvent(value: unknown, limits: IntakeLimits): Outcome<SegmentEvent> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject('schema_violation', 'an event must be a JSON object');
  const result = validator.validate<SegmentEvent>(SchemaIds.segmentEvent, value);
  if (!result.valid) return reject('schema_violation', describeIssues(result.issues));
  const event = result.value;
  if (event.type !== 'alias' && isBlank(event.userId) && isBlank(event.anonymousId)) {
    return reject('missing_identity', 'userId or anonymousId is required');
  }
  for (const [where, traits] of [['traits', event.traits], ['context.traits', event.context?.traits]] as const) {
    const count = traits ? Object.keys(traits).length : 0;
    if (count > limits.maxTraits) return reject('size_violation', `${where} has ${count} keys; at most ${limits.maxTraits}`);
  }
  return { ok: true, value: event };
}

function isBlank(id: string | number | undefined): boolean {
  return id === undefined || String(id).trim() === '';
}
