import { deadLetterTopic, Topics } from '@kairos/contracts';
import { endOffsets, readTopicToEnd } from '@kairos/kafka';
import { Pipeline, PipelineService } from '@kairos/testing';
import { Client } from 'pg';

/** The stages with state that a replay rebuilds from the accepted topic. */
const REPLAYED: readonly PipelineService[] = ['identity', 'segmentation', 'triggers'];

export interface ReplayComparison {
  /** identifier -> profile links of the identity graph. */
  profiles: { live: number; replayed: number; differing: string[] };
  /** Profiles' segment memberships (segment, version and entry time). */
  memberships: { live: number; replayed: number; differing: string[] };
  /** Dispatch ids the journeys decided on. */
  decisions: { live: number; replayed: number; differing: string[] };
  /** Records the replaying groups dead-lettered. */
  deadLettered: number;
  seconds: number;
}

/**
 * The replay of the fault suite: identity, segmentation and triggers started once more with fresh consumer groups and
 * fresh schemas (docs/operations.md, "Replay and backtest"), beside the live ones. Identity reads the accepted topic
 * from the beginning; segmentation and triggers start their groups where the live run's records on their input
 * topics end, so each replaying stage reads only what the replaying stage before it published: the whole chain is
 * rebuilt from the accepted topic alone. Compared with the live run: the identity graph's links, the memberships, and
 * the dispatch ids the journeys decided on (the replay publishes them on the same topic, after the live run's records;
 * dispatch refuses them as already known). Waits until all three agree or `timeoutMs` passes, and reports what still
 * differs.
 */
export async function replayIntoEmptyStores(pipeline: Pipeline, log: (line: string) => void, timeoutMs: number): Promise<ReplayComparison> {
  const started = Date.now();
  const liveEnds = await endOffsets(pipeline.kafka, Topics.dispatchRequests.name);
  const admin = pipeline.kafka.admin();
  await admin.connect();
  try {
    for (const [name, topics] of Object.entries(DOWNSTREAM_INPUTS) as Array<[PipelineService, string[]]>) {
      for (const topic of topics) {
        const ends = await endOffsets(pipeline.kafka, topic);
        await admin.setOffsets({ groupId: replayGroup(name), topic, partitions: [...ends].map(([partition, end]) => ({ partition, offset: end.toString() })) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  const database = new Client({ connectionString: pipeline.stack.databaseUrl });
  await database.connect();
  const labels: string[] = [];
  try {
    for (const name of REPLAYED) {
      const label = `${name} (replay)`;
      // Triggers' replay reads the live run's A/B decisions and makes none of its own (the others ignore the setting).
      await pipeline.start(name, label, { KAFKA_GROUP_ID: replayGroup(name), DATABASE_SCHEMA: `${name}_replay`, TRIGGERS_DECIDE_SPLITS: 'false' });
      labels.push(label);
    }
    const compare = async (): Promise<Omit<ReplayComparison, 'deadLettered' | 'seconds'>> => {
      const decisions = await dispatchIds(pipeline, liveEnds);
      return {
        profiles: differences(await links(database, 'identity'), await links(database, 'identity_replay')),
        memberships: differences(await memberships(database, 'segmentation'), await memberships(database, 'segmentation_replay')),
        decisions: differences(decisions.live, decisions.replayed),
      };
    };
    let comparison = await compare();
    const agrees = () => [comparison.profiles, comparison.memberships, comparison.decisions].every((part) => part.differing.length === 0);
    for (const deadline = Date.now() + timeoutMs; !agrees() && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      comparison = await compare();
      log(`  replay: ${comparison.profiles.replayed}/${comparison.profiles.live} links, ${comparison.memberships.replayed}/${comparison.memberships.live} profiles with memberships, ${comparison.decisions.replayed}/${comparison.decisions.live} decisions`);
    }
    let deadLettered = 0;
    for (const name of REPLAYED) {
      const ends = await endOffsets(pipeline.kafka, deadLetterTopic(replayGroup(name)).name).catch(() => new Map<number, bigint>());
      deadLettered += Number([...ends.values()].reduce((sum, end) => sum + end, 0n));
    }
    return { ...comparison, deadLettered, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    for (const label of labels) await pipeline.take(label).process.stop().catch(() => undefined);
    await database.end();
  }
}

/**
 * Input topics of the replaying stages after identity that the replaying stage before them writes again. Not
 * transfers (they carry their group), nor erasures (requests to the API, which no replay makes again).
 */
const DOWNSTREAM_INPUTS: Partial<Record<PipelineService, string[]>> = {
  segmentation: [Topics.resolved.name, Topics.merges.name],
  triggers: [Topics.profileUpdates.name],
};

const replayGroup = (name: PipelineService) => `kairos-${name}-replay`;

/** Both sides as key -> value; `differing` names (up to 20) keys whose values differ or that one side lacks. */
function differences(live: Map<string, string>, replayed: Map<string, string>): { live: number; replayed: number; differing: string[] } {
  const keys = new Set([...live.keys(), ...replayed.keys()]);
  const differing = [...keys].filter((key) => live.get(key) !== replayed.get(key)).sort();
  return { live: live.size, replayed: replayed.size, differing: differing.slice(0, 20) };
}

/** A replaying service creates its schema when it starts: until then its table is missing, and holds nothing yet. */
function notYet(error: { code?: string }): { rows: never[] } {
  if (error.code === '42P01' || error.code === '3F000') return { rows: [] }; // undefined table, undefined schema
  throw error;
}

async function links(database: Client, schema: string): Promise<Map<string, string>> {
  const result = await database.query<{ identifier: string; profiles: string }>(
    `SELECT identifier, string_agg(profile_id::text, ',' ORDER BY profile_id) AS profiles FROM "${schema}".links GROUP BY identifier`,
  ).catch(notYet);
  return new Map(result.rows.map((row) => [row.identifier, row.profiles]));
}

/** Profile -> its memberships, for profiles in at least one segment (redirects and erasure markers have none). */
async function memberships(database: Client, schema: string): Promise<Map<string, string>> {
  const result = await database.query<{ key: string; memberships: Record<string, unknown> }>(
    `SELECT key, value->'memberships' AS memberships FROM "${schema}".state_entries WHERE store = 'profiles' AND value->'memberships' <> '{}'::jsonb`,
  ).catch(notYet);
  return new Map(result.rows.map((row) => [row.key, JSON.stringify(Object.entries(row.memberships).sort(([a], [b]) => (a < b ? -1 : 1)))]));
}

/** Dispatch ids on the requests topic: the live run's (before `liveEnds`) and the replay's (after). */
async function dispatchIds(pipeline: Pipeline, liveEnds: Map<number, bigint>): Promise<{ live: Map<string, string>; replayed: Map<string, string> }> {
  const live = new Map<string, string>();
  const replayed = new Map<string, string>();
  await readTopicToEnd(pipeline.kafka, Topics.dispatchRequests.name, (records) => {
    for (const record of records) {
      const request = JSON.parse(record.value?.toString() ?? '{}') as { dispatchId?: string; templateId?: string; profileId?: string };
      if (!request.dispatchId) continue;
      const side = BigInt(record.offset) < (liveEnds.get(record.partition) ?? 0n) ? live : replayed;
      side.set(request.dispatchId, `${request.profileId} ${request.templateId}`);
    }
  });
  return { live, replayed };
}
