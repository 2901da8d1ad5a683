import { CatalogueTopic, TopicSpec } from './topic-spec';

const DAY = 24 * 60 * 60 * 1000;

/** The topics keyed by profileId that stateful stages read together: one partition count for all of them. */
const PROFILE = 'profile';

/**
 * The topic catalogue: every topic Kairos reads or writes, and who creates it. A service creates the topics it owns
 * (the ones it produces) at start-up and waits for the others it uses; it subscribes only to names taken from here.
 * docs/architecture.md shows the same list as a table.
 */
export const Topics = {
  raw: {
    owner: 'ingestion',
    name: 'kairos.events.raw.v1',
    key: 'userId ?? anonymousId of the (first) event from the collector, keeping one person\'s events in order; producers may use any key',
    value: 'kairos:segment-event.v1, or a Segment batch envelope {batch: [...]} of them (as sent; may be invalid — that is what the intake checks)',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    description: 'Events as SDKs and the HTTP collector produce them.',
  },
  internal: {
    owner: 'ingestion',
    name: 'kairos.events.internal.v1',
    key: 'profileId',
    value: 'kairos:segment-event.v1 addressed to a profile by its id (context.kairos.profileId)',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    description:
      "Kairos' own events about a profile it knows by id: dispatch's engagement (opens, clicks, unsubscribes, confirmations, bounces) and journeys' updateProfile. The only way in for an event addressed by profile id: give write access to dispatch and triggers alone.",
  },
  accepted: {
    owner: 'ingestion',
    name: 'kairos.events.accepted.v1',
    key: 'the addressed profileId ?? userId ?? anonymousId (the identity stage re-keys by profileId)',
    value: 'kairos:accepted-event.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'Validated, normalised, de-duplicated events: the replayable log everything downstream derives from.',
  },
  rejected: {
    owner: 'ingestion',
    name: 'kairos.events.rejected.v1',
    key: 'source id',
    value: 'kairos:rejected-event.v1',
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Every input the intake refused, with a typed reason and the original bytes.',
  },
  resolved: {
    owner: 'identity',
    coPartitionGroup: PROFILE,
    name: 'kairos.events.resolved.v1',
    key: 'profileId',
    value: 'kairos:resolved-event.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Accepted events re-keyed by canonical profile.',
  },
  merges: {
    owner: 'identity',
    coPartitionGroup: PROFILE,
    name: 'kairos.identity.merges.v1',
    key: 'loser profileId',
    value: 'kairos:profile-merge.v1',
    partitions: 6,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Profile merges (loser -> survivor); later stages move the loser state to the survivor.',
  },
  erasureRequests: {
    // Operators (and the identity API) produce requests; identity, their one consumer, is the stage that needs it.
    owner: 'identity',
    name: 'kairos.identity.erasure-requests.v1',
    key: 'requestId',
    value: 'kairos:erasure-request.v1',
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Requests to erase a customer (by profile id or identifier); the identity service carries them out.',
  },
  erasures: {
    owner: 'identity',
    coPartitionGroup: PROFILE,
    name: 'kairos.identity.erasures.v1',
    key: 'profileId (the survivor of the erased component)',
    value: 'kairos:profile-erasure.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'Erased profiles: every stage deletes what it holds under these profile ids.',
  },
  suppressions: {
    owner: 'identity',
    name: 'kairos.identity.suppressions.v1',
    key: 'identifier hash',
    value: 'kairos:suppressed-identifier.v1',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Erased identifiers (hashed); events carrying one are dropped, also when the accepted topic is replayed.',
  },
  segmentChanges: {
    owner: 'segmentation',
    coPartitionGroup: PROFILE,
    name: 'kairos.segments.changes.v1',
    key: 'profileId',
    value: 'kairos:segment-change.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Segment enter/exit changes.',
  },
  profileSnapshots: {
    owner: 'segmentation',
    coPartitionGroup: PROFILE,
    name: 'kairos.profiles.snapshots.v1',
    key: 'profileId',
    value: 'kairos:profile-snapshot.v1',
    partitions: 6,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Latest state of each profile (traits, consent, aggregates, segments).',
  },
  profileUpdates: {
    owner: 'segmentation',
    coPartitionGroup: PROFILE,
    name: 'kairos.profiles.updates.v1',
    key: 'profileId',
    value: 'kairos:profile-update.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    description: 'Each input segmentation applied, in order per profile, with the state and segment changes after it: what triggers decide from.',
  },
  profileTransfers: {
    owner: 'segmentation',
    coPartitionGroup: PROFILE,
    name: 'kairos.segmentation.transfers.v1',
    key: 'profileId whose writer must apply it (a merge survivor, an erased profile)',
    value: 'kairos:profile-transfer.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    description:
      "Segmentation's internal repartition topic: a merged-away profile's state (and records still keyed by it) carried to the survivor's partition, erasures carried to a profile's partition. Records carry the consumer group that wrote them; another group (a replay) ignores them.",
  },
  dispatchRequests: {
    owner: 'triggers',
    coPartitionGroup: PROFILE,
    name: 'kairos.dispatch.requests.v1',
    key: 'profileId',
    value: 'kairos:dispatch-request.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    description: 'Messages to send, each with a deterministic dispatchId.',
  },
  deliveryOutcomes: {
    owner: 'dispatch',
    coPartitionGroup: PROFILE,
    name: 'kairos.dispatch.outcomes.v1',
    key: 'profileId',
    value: 'kairos:delivery-outcome.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'What was sent, suppressed, failed — and why. Read by analysts.',
  },
  journeyOutcomes: {
    owner: 'triggers',
    coPartitionGroup: PROFILE,
    name: 'kairos.journeys.outcomes.v1',
    key: 'profileId',
    value: 'kairos:journey-outcome.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: -1,
    description: 'Journey entries, steps, exits and goals. Read by analysts.',
  },
  journeysTransfers: {
    owner: 'triggers',
    coPartitionGroup: PROFILE,
    name: 'kairos.triggers.transfers.v1',
    key: 'the merge survivor profileId whose writer folds it',
    value: 'kairos:journeys-transfer.v1',
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    description:
      "Triggers' internal repartition topic: a merged-away profile's journeys state carried to the survivor's partition. Records carry the consumer group that wrote them; another group (a replay) ignores them.",
  },
  splitWinners: {
    owner: 'triggers',
    name: 'kairos.journeys.split-winners.v1',
    key: 'journeyId@version/stepId of the split',
    value: 'kairos:split-winner.v1',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: "Decided A/B splits: the variant every later entry gets. Every triggers instance reads the whole topic, as it reads the definitions; a replay reads the decisions rather than making them again.",
  },
  definitions: {
    owner: 'admin',
    name: 'kairos.definitions.v1',
    key: 'definition kind/id',
    value: 'kairos:definition.v1',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    description: 'Published segments, triggers, journeys, templates and sources; every service hot-reloads them.',
  },
} as const satisfies Record<string, CatalogueTopic>;

export type TopicName = (typeof Topics)[keyof typeof Topics]['name'];

export const ALL_TOPICS: readonly CatalogueTopic[] = Object.values(Topics);

/** The catalogue entry of a topic name, if it is one. */
export function catalogueTopic(name: string): CatalogueTopic | undefined {
  return ALL_TOPICS.find((topic) => topic.name === name);
}

/**
 * The co-partition groups among `topics` that have two or more of them: what a service that uses these topics must
 * check has one partition count per group.
 */
export function coPartitionGroups(topics: readonly TopicSpec[]): Array<{ group: string; topics: string[] }> {
  const groups = new Map<string, Set<string>>();
  for (const topic of topics) {
    if (topic.coPartitionGroup) groups.set(topic.coPartitionGroup, (groups.get(topic.coPartitionGroup) ?? new Set()).add(topic.name));
  }
  return [...groups].filter(([, names]) => names.size > 1).map(([group, names]) => ({ group, topics: [...names] }));
}

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
