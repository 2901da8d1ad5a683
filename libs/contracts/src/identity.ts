import { AcceptedEvent } from './events';

/** One identifier of a customer: `type` is user_id, anonymous_id, email, phone, device_id, advertising_id or a custom id type. */
export interface Identifier {
  type: string;
  value: string;
}

/** How the identity stage resolved an event; see schemas/resolved-event.v1.schema.json. */
export interface EventResolution {
  /** Identifiers of the event that matched the profile (or were linked to it by this event). */
  matched: Identifier[];
  /** Identifiers this event linked to the profile for the first time. */
  linked: Identifier[];
  /** Identifiers an identity rule kept from matching (limit, caps, supernode guard, blocked value). */
  ignored: Array<Identifier & { reason: IgnoredIdentifierReason }>;
  /** Profiles this event merged into profileId; a consumer folds their state into profileId before applying the event. */
  mergedProfileIds: string[];
}

export type IgnoredIdentifierReason = 'blocked' | 'limit' | 'merge_cap' | 'identifier_cap' | 'supernode';

/** An accepted event re-keyed by its canonical profile. */
export interface ResolvedEvent extends AcceptedEvent {
  profileId: string;
  resolution: EventResolution;
}

/**
 * loser -> survivor, on the compacted merges topic keyed by the loser. The contract for every later stage:
 * on a merge, move the loser's state to the survivor (idempotently: a merge may be delivered again), and treat any
 * later-arriving record keyed by the loser as the survivor's. Chains (A -> B, then B -> C) resolve transitively.
 */
export interface ProfileMerge {
  loserId: string;
  survivorId: string;
  /** Event time of the event that caused the merge. */
  mergedAt: string;
  messageId: string;
  /**
   * shared_identifier: the event carried identifiers of both profiles.
   * earlier_event: an event older than the profile joined it; a profile's id is derived from its earliest event,
   * so the profile is re-founded under that event's id (this makes profile ids independent of processing order).
   */
  reason: 'shared_identifier' | 'earlier_event';
  /** Identifiers that joined the two profiles. */
  identifiers: Identifier[];
}

/** A request to erase a customer: by profile id or by any of their identifiers. */
export interface ErasureRequest {
  requestId: string;
  profileId?: string;
  identifier?: Identifier;
  requestedAt?: string;
}

/**
 * Published once a profile's whole merged component is erased. Every stage deletes what it holds under these
 * profile ids; tombstones for them follow on the compacted topics.
 */
export interface ProfileErasure {
  requestId: string;
  profileIds: string[];
  identifierCount: number;
  erasedAt: string;
}

/** An erased identifier, as a hash: the suppression list must not itself keep the personal data it suppresses. */
export interface SuppressedIdentifier {
  hash: string;
  type: string;
  requestId: string;
  erasedAt: string;
}
