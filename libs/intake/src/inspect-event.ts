import { describeIssues, EVENT_SCHEMAS, SchemaIds, SchemaValidator, SegmentEvent, Topics } from '@kairos/contracts';
import { IntakeLimits } from './intake-limits';
import { Outcome, reject } from './intake-result';

const validator = new SchemaValidator(EVENT_SCHEMAS);

/**
 * Where an event came in: the collector (HTTP, facing the internet), the raw topic (SDKs and other producers), or the
 * internal topic, which only Kairos' own services may write (Kafka ACLs).
 */
export type IntakeChannel = 'http' | 'kafka' | 'internal';

/**
 * A parsed value -> a valid Segment event, or the reason it is not one: schema, identity, trait count. Depth and
 * size come first, in judgeEvent(). An event addressed to a profile by its Kairos id (context.kairos) is one of
 * Kairos' own and is accepted from the internal topic only.
 */
export function inspectEvent(value: unknown, limits: IntakeLimits, channel: IntakeChannel): Outcome<SegmentEvent> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject('schema_violation', 'an event must be a JSON object');
  const result = validator.validate<SegmentEvent>(SchemaIds.segmentEvent, value);
  if (!result.valid) return reject('schema_violation', describeIssues(result.issues));
  const event = result.value;
  const addressed = event.context?.kairos !== undefined;
  if (addressed && channel !== 'internal') {
    return reject('schema_violation', `/context/kairos addresses a Kairos profile by its id: only Kairos' own services send it, on ${Topics.internal.name}`);
  }
  // Kairos' own events name their profile and carry the deterministic id that makes a repeat of them a duplicate.
  if (channel === 'internal' && (!addressed || event.messageId === undefined)) {
    return reject('schema_violation', `an event on ${Topics.internal.name} needs /context/kairos/profileId and a messageId`);
  }
  if (event.type !== 'alias' && !addressed && isBlank(event.userId) && isBlank(event.anonymousId)) {
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
