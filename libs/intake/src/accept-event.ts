import { AcceptedEvent, EventIdentifiers, SegmentEvent } from '@kairos/contracts';
import { IntakeLimits } from './intake-limits';
import { Outcome, reject } from './intake-result';

export interface Arrival {
  sourceId: string;
  /** When Kairos received the event: the collector's clock, or the raw record's timestamp. */
  receivedAt: Date;
  /** Used when the event has none: the collector generates one; the intake derives one from the record's offset. */
  messageId: string;
  /** sentAt of the enclosing batch, for events without their own. */
  batchSentAt?: string;
  /** The client's address, only when the source allows collecting it. */
  ip?: string;
}

/**
 * A valid Segment event -> the accepted envelope. Deterministic: the same event and arrival give the same output,
 * so replaying the raw topic reproduces the accepted topic.
 */
export function acceptEvent(event: SegmentEvent, arrival: Arrival, limits: IntakeLimits): Outcome<AcceptedEvent> {
  const timestamp = eventTime(event, arrival);
  const receivedMs = arrival.receivedAt.getTime();
  if (timestamp.getTime() > receivedMs + limits.maxFutureMs) {
    return reject('timestamp_out_of_range', `timestamp ${timestamp.toISOString()} is more than ${limits.maxFutureMs / 3_600_000} h after receivedAt ${arrival.receivedAt.toISOString()}`);
  }
  if (timestamp.getTime() < Date.parse(limits.earliestTimestamp)) {
    return reject('timestamp_out_of_range', `timestamp ${timestamp.toISOString()} is before ${limits.earliestTimestamp}`);
  }
  const ids = {
    userId: normaliseId(event.userId),
    anonymousId: normaliseId(event.anonymousId),
    previousId: normaliseId(event.previousId),
    groupId: normaliseId(event.groupId),
  };
  const email = normaliseEmail(event.traits?.['email']) ?? normaliseEmail(event.context?.traits?.['email']);
  const profileId = event.context?.kairos?.profileId.toLowerCase();
  const identifiers: EventIdentifiers = definedOnly({ userId: ids.userId, anonymousId: ids.anonymousId, previousId: ids.previousId, email, profileId });

  const { userId: _userId, anonymousId: _anonymousId, previousId: _previousId, groupId: _groupId, ...rest } = event;
  const accepted: AcceptedEvent = {
    ...rest,
    ...definedOnly(ids),
    messageId: event.messageId ?? arrival.messageId,
    sourceId: arrival.sourceId,
    receivedAt: arrival.receivedAt.toISOString(),
    timestamp: timestamp.toISOString(),
    identifiers,
  };
  if (arrival.ip) accepted.context = { ...(event.context ?? {}), ip: arrival.ip };
  return { ok: true, value: accepted };
}

/**
 * Segment's clock-skew correction: an explicit timestamp wins; otherwise the device's originalTimestamp shifted by
 * the device clock's error, measured as receivedAt - sentAt; otherwise receivedAt.
 */
export function eventTime(event: SegmentEvent, arrival: Pick<Arrival, 'receivedAt' | 'batchSentAt'>): Date {
  if (event.timestamp) return new Date(event.timestamp);
  const sentAt = event.sentAt ?? arrival.batchSentAt;
  if (event.originalTimestamp && sentAt) {
    return new Date(arrival.receivedAt.getTime() - (Date.parse(sentAt) - Date.parse(event.originalTimestamp)));
  }
  if (event.originalTimestamp) return new Date(event.originalTimestamp);
  return arrival.receivedAt;
}

/** The key of the accepted record: the identity stage re-keys by profile; until then, the strongest id. */
export function acceptedKey(event: AcceptedEvent): string {
  return event.identifiers.profileId ?? event.identifiers.userId ?? event.identifiers.anonymousId ?? event.identifiers.previousId ?? event.messageId;
}

function definedOnly<T extends Record<string, string | undefined>>(values: T): Partial<Record<keyof T, string>> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<Record<keyof T, string>>;
}

function normaliseId(id: string | number | undefined): string | undefined {
  if (id === undefined) return undefined;
  const trimmed = String(id).trim();
  return trimmed === '' ? undefined : trimmed;
}

function normaliseEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim().toLowerCase();
  return email.includes('@') ? email : undefined;
}
