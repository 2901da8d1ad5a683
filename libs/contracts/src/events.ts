import segmentEventSchema from '../schemas/segment-event.v1.schema.json';
import acceptedEventSchema from '../schemas/accepted-event.v1.schema.json';
import rejectedEventSchema from '../schemas/rejected-event.v1.schema.json';
import identifierSchema from '../schemas/identifier.v1.schema.json';
import resolvedEventSchema from '../schemas/resolved-event.v1.schema.json';
import profileMergeSchema from '../schemas/profile-merge.v1.schema.json';
import erasureRequestSchema from '../schemas/erasure-request.v1.schema.json';
import profileErasureSchema from '../schemas/profile-erasure.v1.schema.json';
import suppressedIdentifierSchema from '../schemas/suppressed-identifier.v1.schema.json';
import segmentChangeSchema from '../schemas/segment-change.v1.schema.json';
import profileSnapshotSchema from '../schemas/profile-snapshot.v1.schema.json';
import profileUpdateSchema from '../schemas/profile-update.v1.schema.json';
import profileTransferSchema from '../schemas/profile-transfer.v1.schema.json';
import dispatchRequestSchema from '../schemas/dispatch-request.v1.schema.json';
import deliveryOutcomeSchema from '../schemas/delivery-outcome.v1.schema.json';
import journeyOutcomeSchema from '../schemas/journey-outcome.v1.schema.json';
import journeysTransferSchema from '../schemas/journeys-transfer.v1.schema.json';
import splitWinnerSchema from '../schemas/split-winner.v1.schema.json';

export const EVENT_SCHEMAS: readonly object[] = [
  segmentEventSchema,
  acceptedEventSchema,
  rejectedEventSchema,
  identifierSchema,
  resolvedEventSchema,
  profileMergeSchema,
  erasureRequestSchema,
  profileErasureSchema,
  suppressedIdentifierSchema,
  segmentChangeSchema,
  profileSnapshotSchema,
  profileUpdateSchema,
  profileTransferSchema,
  dispatchRequestSchema,
  deliveryOutcomeSchema,
  journeyOutcomeSchema,
  journeysTransferSchema,
  splitWinnerSchema,
];

export const SchemaIds = {
  segmentEvent: 'kairos:segment-event.v1',
  acceptedEvent: 'kairos:accepted-event.v1',
  rejectedEvent: 'kairos:rejected-event.v1',
  identifier: 'kairos:identifier.v1',
  resolvedEvent: 'kairos:resolved-event.v1',
  profileMerge: 'kairos:profile-merge.v1',
  erasureRequest: 'kairos:erasure-request.v1',
  profileErasure: 'kairos:profile-erasure.v1',
  suppressedIdentifier: 'kairos:suppressed-identifier.v1',
  segmentChange: 'kairos:segment-change.v1',
  profileSnapshot: 'kairos:profile-snapshot.v1',
  profileUpdate: 'kairos:profile-update.v1',
  profileTransfer: 'kairos:profile-transfer.v1',
  dispatchRequest: 'kairos:dispatch-request.v1',
  deliveryOutcome: 'kairos:delivery-outcome.v1',
  journeyOutcome: 'kairos:journey-outcome.v1',
  journeysTransfer: 'kairos:journeys-transfer.v1',
  splitWinner: 'kairos:split-winner.v1',
} as const;

export type SegmentEventType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias';

/** The known fields of a Segment tracking-spec event; see schemas/segment-event.v1.schema.json. */
export interface SegmentEventFields {
  type: SegmentEventType;
  messageId?: string;
  userId?: string | number;
  anonymousId?: string | number;
  previousId?: string | number;
  groupId?: string | number;
  event?: string;
  name?: string;
  category?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: Record<string, unknown> & { traits?: Record<string, unknown>; consent?: Record<string, unknown>; ip?: string; userAgent?: string; kairos?: KairosAddress };
  integrations?: Record<string, unknown>;
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
}

/** A Segment event as sent: the known fields, and any others the sender added (the spec is open). */
export interface SegmentEvent extends SegmentEventFields {
  [field: string]: unknown;
}

/**
 * context.kairos: an event of Kairos' own services (dispatch's engagement events, a journey's updateProfile step)
 * addressed to a profile by its id rather than by a person's identifiers. Accepted on the raw topic only (inside the
 * trust boundary; the collector refuses it); identity resolves it to the profile's survivor and links nothing.
 */
export interface KairosAddress {
  profileId: string;
}

export interface EventIdentifiers {
  userId?: string;
  anonymousId?: string;
  previousId?: string;
  email?: string;
  /** context.kairos.profileId, lower-cased: the event is addressed to this profile (see KairosAddress). */
  profileId?: string;
}

/** See schemas/accepted-event.v1.schema.json. */
export interface AcceptedEvent extends Omit<SegmentEventFields, 'userId' | 'anonymousId' | 'previousId' | 'groupId'> {
  [field: string]: unknown;
  messageId: string;
  sourceId: string;
  receivedAt: string;
  timestamp: string;
  userId?: string;
  anonymousId?: string;
  previousId?: string;
  groupId?: string;
  identifiers: EventIdentifiers;
}

export const REJECTION_REASONS = [
  'invalid_json',
  'invalid_encoding',
  'schema_violation',
  'size_violation',
  'depth_violation',
  'missing_identity',
  'unknown_source',
  'timestamp_out_of_range',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** See schemas/rejected-event.v1.schema.json. */
export interface RejectedEvent {
  reason: RejectionReason;
  detail: string;
  sourceId?: string;
  messageId?: string;
  rejectedAt: string;
  via: 'http' | 'kafka';
  origin?: { topic: string; partition: number; offset: string; index?: number };
  payloadBase64: string;
}

/** Headers the collector puts on the raw records it writes; a Kafka producer may set kairos-write-key itself. */
export const RawEventHeaders = {
  sourceId: 'kairos-source-id',
  writeKey: 'kairos-write-key',
  receivedAt: 'kairos-received-at',
  ip: 'kairos-client-ip',
} as const;
