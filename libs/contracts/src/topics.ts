import { TopicSpec } from './topic-spec';

const DAY = 24 * 60 * 60 * 1000;

/**
 * The topic catalogue: every topic Kairos reads or writes. Services create missing topics from it at start-up and
 * subscribe only to names taken from here. docs/architecture.md shows the same list as a table.
 */
export const Topics = {
  raw: {
    name: 'kairos.events.raw.v1',
    key: 'userId ?? anonymousId of the (first) event from the collector, keeping one person\'s events in order; producers may use any key',
    value: 'kairos:segment-event.v1, or a Segment batch envelope {batch: [...]} of them (as sent; may be invalid — that is what the intake checks)',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    description: 'Events as SDKs and the HTTP collector produce them.',
  },
  accepted: {
    name: 'kairos.events.accepted.v1',
    key: 'userId ?? anonymousId (the identity stage re-keys by profileId)',
    value: 'kairos:accepted-event.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'Validated, normalised, de-duplicated events: the replayable log everything downstream derives from.',
  },
  rejected: {
    name: 'kairos.events.rejected.v1',
    key: 'source id',
    value: 'kairos:rejected-event.v1',
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Every input the intake refused, with a typed reason and the original bytes.',
  },
  resolved: {
    name: 'kairos.events.resolved.v1',
    key: 'profileId',
    value: 'kairos:resolved-event.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Accepted events re-keyed by canonical profile.',
  },
  merges: {
    name: 'kairos.identity.merges.v1',
    key: 'loser profileId',
    value: 'kairos:profile-merge.v1',
    partitions: 6,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Profile merges (loser -> survivor); later stages move the loser state to the survivor.',
  },
  erasureRequests: {
    name: 'kairos.identity.erasure-requests.v1',
    key: 'requestId',
    value: 'kairos:erasure-request.v1',
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Requests to erase a customer (by profile id or identifier); the identity service carries them out.',
  },
  erasures: {
    name: 'kairos.identity.erasures.v1',
    key: 'profileId (the survivor of the erased component)',
    value: 'kairos:profile-erasure.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'Erased profiles: every stage deletes what it holds under these profile ids.',
  },
  suppressions: {
    name: 'kairos.identity.suppressions.v1',
    key: 'identifier hash',
    value: 'kairos:suppressed-identifier.v1',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Erased identifiers (hashed); events carrying one are dropped, also when the accepted topic is replayed.',
  },
  segmentChanges: {
    name: 'kairos.segments.changes.v1',
    key: 'profileId',
    value: 'kairos:segment-change.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Segment enter/exit changes.',
  },
  profileSnapshots: {
    name: 'kairos.profiles.snapshots.v1',
    key: 'profileId',
    value: 'kairos:profile-snapshot.v1',
    partitions: 6,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Latest state of each profile (traits, consent, aggregates, segments).',
  },
  dispatchRequests: {
    name: 'kairos.dispatch.requests.v1',
    key: 'profileId',
    value: 'kairos:dispatch-request.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Messages to send, each with a deterministic dispatchId.',
  },
  deliveryOutcomes: {
    name: 'kairos.dispatch.outcomes.v1',
    key: 'profileId',
    value: 'kairos:delivery-outcome.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'What was sent, suppressed, failed — and why. Read by analysts.',
  },
  journeyOutcomes: {
    name: 'kairos.journeys.outcomes.v1',
    key: 'profileId',
    value: 'kairos:journey-outcome.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'Journey entries, steps, exits and goals. Read by analysts.',
  },
  definitions: {
    name: 'kairos.definitions.v1',
    key: 'definition kind/id',
    value: 'kairos:definition.v1',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Published segments, triggers, journeys, templates and sources; every service hot-reloads them.',
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicName = (typeof Topics)[keyof typeof Topics]['name'];

export const ALL_TOPICS: readonly TopicSpec[] = Object.values(Topics);

/**
 * Each consumer group has its own dead-letter topic, so a poison record is replayed to exactly the consumer that
 * could not process it. The value is the original record's bytes, unchanged; the reason travels in headers
 * (see dead-letter.ts).
 */
export function deadLetterTopic(groupId: string): TopicSpec {
  return {
    name: `kairos.dlq.${groupId}.v1`,
    key: 'the original key',
    value: 'the original value bytes, unchanged',
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: `Records consumer group ${groupId} could not process, with the reason in kairos-dlq-* headers.`,
  };
}
