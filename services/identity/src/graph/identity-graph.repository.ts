import { Inject, Injectable } from '@nestjs/common';
import { Identifier, ProfileErasure, ProfileMerge, SuppressedIdentifier } from '@kairos/contracts';
import { GraphChanges, identifierKey, LinkState, ProfileState } from '@kairos/identity-graph';
import { DataSource, EntityManager } from 'typeorm';
import { BatchOutputs, RecordOutput, withoutProfiles } from '../resolution/record-output';

/** One entry of the change feed: what a write touched. `identifiers` null: everything (an erasure). */
export interface GraphChange {
  version: number;
  identifiers: string[] | null;
  profiles: string[];
}

/** A transaction holding the graph lock; every query of a graph writer runs through one. */
export interface GraphTransaction {
  /** graph_version as this transaction sees it: the last write committed before it, then its own. */
  version: number;
  /**
   * The current graph_version and the change feed after `version` (gaps mean pruned or scrubbed entries); no entries
   * when `version` is unknown (-1) or further behind than the feed keeps.
   */
  changesSince(version: number): Promise<{ version: number; changes: GraphChange[] }>;
  /** Outputs stored for these offsets of an input partition: the records a batch already applied. */
  appliedOutputs(topic: string, partition: number, offsets: readonly string[]): Promise<Map<string, RecordOutput>>;
  loadIdentifiers(keys: readonly string[]): Promise<Map<string, string[]>>;
  loadProfiles(ids: readonly string[]): Promise<ProfileState[]>;
  /** The surviving profile of each of these ids that the store knows (a merged-away one resolves to its survivor). */
  survivorsOf(ids: readonly string[]): Promise<Map<string, string>>;
  /** Writes the graph changes and, when there are any, what they touched to the change feed. */
  write(changes: GraphChanges): Promise<void>;
  /** Records which offsets of an input partition the graph now reflects, with their outputs; prunes old batches. */
  recordBatch(topic: string, partition: number, outputs: BatchOutputs): Promise<void>;
  manager: EntityManager;
}

export interface ErasedComponent {
  profileIds: string[];
  identifiers: Identifier[];
}

/** Part of the graph read without the lock, as of `version` or later; only what no later write touched is usable. */
export interface PrefetchedGraph {
  version: number;
  identifiers: Map<string, string[]>;
  profiles: ProfileState[];
}

/** An erasure as recorded: what it published, so that a repeated request publishes the same again. */
export interface RecordedErasure {
  erasure: ProfileErasure;
  suppressed: SuppressedIdentifier[];
}

/**
 * Why these bounds: a graph transaction never waits for the broker, so anything longer than this is a stuck
 * database or a stuck writer, and waiting longer would also outlast the consumer's 10 s session (no heartbeats
 * while a batch waits): the batch fails, is retried with back-off, and the lock is free for the others.
 */
const TRANSACTION_LIMITS = `SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '10s'; SET LOCAL idle_in_transaction_session_timeout = '10s'`;
/**
 * A redelivery starts at the group's committed offset, which trails the last applied batch by the batches in flight
 * (one per partition, or its records one by one after a failure): 20,000 offsets per partition is ample.
 */
const APPLIED_OFFSETS_KEPT = 20_000;
/** An instance further behind than this (stopped, or long idle) drops its cache instead of reading the feed. */
const GRAPH_CHANGES_KEPT = 10_000;

/**
 * The only code of the identity service that touches PostgreSQL. Writers serialise on a transaction-scoped
 * advisory lock of the schema, so two instances never interleave inside one batch; batched statements
 * (unnest arrays) keep a batch to a handful of round trips.
 */
@Injectable()
export class IdentityGraphRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Runs `work` in a transaction that holds the graph lock, under time limits; commits when it resolves. */
  withGraphLock<T>(work: (transaction: GraphTransaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`${TRANSACTION_LIMITS}; SELECT pg_advisory_xact_lock(hashtext('kairos-identity-graph:' || current_schema()))`);
      return work(this.transaction(manager));
    });
  }

  /**
   * Reads identifier entries and their profiles outside any transaction, so that a batch's cache misses need not be
   * read while it holds the lock. graph_version is read first: every write committed up to it is visible to the
   * reads after it, and every later write is listed in the change feed, so the writer can tell what is still current.
   */
  async prefetch(keys: readonly string[]): Promise<PrefetchedGraph> {
    const manager = this.dataSource.manager;
    const [row] = (await manager.query('SELECT version FROM graph_version WHERE id = 1')) as Array<{ version: string }>;
    const reader = this.transaction(manager);
    const identifiers = await reader.loadIdentifiers(keys);
    const profiles = await reader.loadProfiles([...new Set([...identifiers.values()].flat())]);
    return { version: Number(row?.version), identifiers, profiles };
  }

  /** The suppression list: hashes of erased identifiers. */
  async suppressedHashes(manager: EntityManager = this.dataSource.manager): Promise<Set<string>> {
    const rows: Array<{ hash: string }> = await manager.query('SELECT hash FROM suppressed_identifiers');
    return new Set(rows.map((row) => row.hash));
  }

  /** Resolves a profile id (a merged-away one too) to the surviving profile, or undefined when it is unknown. */
  async survivorOf(manager: EntityManager, profileId: string): Promise<string | undefined> {
    return (await survivorsOf(manager, [profileId])).get(profileId);
  }

  /** Surviving profiles an identifier is linked to. */
  async profilesWith(manager: EntityManager, identifier: Identifier): Promise<string[]> {
    const rows: Array<{ profile_id: string }> = await manager.query('SELECT profile_id FROM links WHERE identifier = $1 ORDER BY profile_id', [identifierKey(identifier)]);
    return rows.map((row) => row.profile_id);
  }

  /**
   * Deletes the whole merged component of these surviving profiles: every profile merged into them (transitively),
   * their links, their merge history, and other profiles' links to the same identifiers. Returns what it deleted.
   */
  async eraseComponent(manager: EntityManager, survivors: readonly string[]): Promise<ErasedComponent> {
    const members: Array<{ id: string }> = await manager.query(
      `WITH RECURSIVE component(id) AS (
         SELECT unnest($1::uuid[])
         UNION
         SELECT p.id FROM profiles p JOIN component c ON p.merged_into = c.id
       )
       SELECT id FROM component ORDER BY id`,
      [survivors],
    );
    const profileIds = members.map((member) => member.id);
    const identifiers: Array<{ type: string; value: string }> = await manager.query(
      'SELECT DISTINCT type, value FROM links WHERE profile_id = ANY($1::uuid[]) ORDER BY type, value',
      [profileIds],
    );
    await manager.query(
      'DELETE FROM links WHERE identifier IN (SELECT identifier FROM links WHERE profile_id = ANY($1::uuid[]))',
      [profileIds],
    );
    await manager.query('DELETE FROM merges WHERE loser_id = ANY($1::uuid[]) OR survivor_id = ANY($1::uuid[])', [profileIds]);
    await manager.query('DELETE FROM profiles WHERE id = ANY($1::uuid[])', [profileIds]);
    return { profileIds, identifiers };
  }

  /**
   * Records an erasure with what it publishes, and takes the erased profiles out of what else the database keeps
   * for redelivery and for other instances: their stored batch outputs (resolutions name identifiers) and the change
   * feed entries naming their identifiers, replaced by one entry that tells every instance to drop its cache.
   */
  async recordErasure(manager: EntityManager, { erasure, suppressed }: RecordedErasure, identifierKeys: readonly string[]): Promise<void> {
    await manager.query(
      'INSERT INTO erasures (request_id, profile_ids, identifier_count, erased_at, suppressions) VALUES ($1, $2::uuid[], $3, $4, $5::json)',
      [erasure.requestId, erasure.profileIds, erasure.identifierCount, erasure.erasedAt, JSON.stringify(suppressed)],
    );
    if (erasure.profileIds.length > 0) {
      const erased = new Set(erasure.profileIds);
      const batches: Array<{ topic: string; partition: number; last_offset: string; outputs: BatchOutputs }> = await manager.query(
        `SELECT topic, partition, last_offset, outputs FROM applied_batches WHERE outputs::text ~ $1`,
        [erasure.profileIds.join('|')],
      );
      for (const batch of batches) {
        await manager.query('UPDATE applied_batches SET outputs = $4::json WHERE topic = $1 AND partition = $2 AND last_offset = $3', [
          batch.topic,
          batch.partition,
          batch.last_offset,
          JSON.stringify(withoutProfiles(batch.outputs, erased)),
        ]);
      }
    }
    if (identifierKeys.length > 0) await manager.query('DELETE FROM graph_changes WHERE identifiers && $1::text[]', [identifierKeys]);
    await this.recordChange(manager, null, erasure.profileIds);
  }

  async erasure(manager: EntityManager, requestId: string): Promise<RecordedErasure | undefined> {
    const rows: ErasureRow[] = await manager.query('SELECT request_id, profile_ids, identifier_count, erased_at, suppressions FROM erasures WHERE request_id = $1', [requestId]);
    return rows[0] && recordedErasure(rows[0]);
  }

  /** Erasures committed whose records the broker has not acknowledged (the process stopped in between). */
  async unpublishedErasures(): Promise<RecordedErasure[]> {
    const rows: ErasureRow[] = await this.dataSource.query(
      'SELECT request_id, profile_ids, identifier_count, erased_at, suppressions FROM erasures WHERE published_at IS NULL ORDER BY erased_at',
    );
    return rows.map(recordedErasure);
  }

  async markErasurePublished(requestId: string): Promise<void> {
    await this.dataSource.query('UPDATE erasures SET published_at = now() WHERE request_id = $1 AND published_at IS NULL', [requestId]);
  }

  /** Adds identifiers to the suppression list (an erasure, or the suppressions topic at start-up); returns how many were new. */
  async suppress(entries: ReadonlyArray<{ hash: string; type: string; requestId: string; erasedAt: string }>, manager: EntityManager = this.dataSource.manager): Promise<number> {
    if (entries.length === 0) return 0;
    const inserted: Array<{ hash: string }> = await manager.query(
      `INSERT INTO suppressed_identifiers (hash, type, request_id, erased_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
       ON CONFLICT (hash) DO NOTHING RETURNING hash`,
      [entries.map((e) => e.hash), entries.map((e) => e.type), entries.map((e) => e.requestId), entries.map((e) => e.erasedAt)],
    );
    return inserted.length;
  }

  private transaction(manager: EntityManager): GraphTransaction {
    const transaction: GraphTransaction = {
      version: -1,
      manager,
      changesSince: async (version) => {
        const rows: Array<{ current: string; version: string | null; identifiers: string[] | null; profiles: string[] | null }> = await manager.query(
          `SELECT g.version AS current, c.version, c.identifiers, c.profiles
           FROM graph_version g LEFT JOIN graph_changes c ON c.version > $1 AND $1 >= 0 AND $1 >= g.version - ${GRAPH_CHANGES_KEPT}
           WHERE g.id = 1 ORDER BY c.version`,
          [version],
        );
        const current = Number(rows[0]?.current ?? 0);
        transaction.version = current;
        const changes = rows.flatMap((row) => (row.version === null ? [] : [{ version: Number(row.version), identifiers: row.identifiers, profiles: row.profiles ?? [] }]));
        return { version: current, changes };
      },
      appliedOutputs: async (topic, partition, offsets) => {
        const outputs = new Map<string, RecordOutput>();
        if (offsets.length === 0) return outputs;
        const numbers = offsets.map(Number);
        const rows: Array<{ outputs: BatchOutputs }> = await manager.query(
          'SELECT outputs FROM applied_batches WHERE topic = $1 AND partition = $2 AND last_offset >= $3 AND first_offset <= $4',
          [topic, partition, Math.min(...numbers), Math.max(...numbers)],
        );
        const wanted = new Set(offsets);
        for (const row of rows) for (const [offset, output] of Object.entries(row.outputs)) if (wanted.has(offset)) outputs.set(offset, output);
        return outputs;
      },
      recordBatch: async (topic, partition, outputs) => {
        const offsets = Object.keys(outputs).map(Number);
        if (offsets.length === 0) return;
        const first = Math.min(...offsets);
        await manager.query(
          `WITH pruned AS (DELETE FROM applied_batches WHERE topic = $1 AND partition = $2 AND last_offset < $3::bigint - ${APPLIED_OFFSETS_KEPT})
           INSERT INTO applied_batches (topic, partition, first_offset, last_offset, outputs) VALUES ($1, $2, $3, $4, $5::json)`,
          [topic, partition, first, Math.max(...offsets), JSON.stringify(outputs)],
        );
      },
      write: async (changes) => {
        await this.write(manager, changes);
        const identifiers = new Set(changes.links.map(identifierKey));
        const profiles = new Set([...changes.profiles.map((p) => p.id), ...changes.mergedAway.map((p) => p.id), ...changes.links.map((l) => l.profileId)]);
        if (identifiers.size > 0 || profiles.size > 0) transaction.version = await this.recordChange(manager, [...identifiers], [...profiles]);
      },
      loadIdentifiers: async (keys) => {
        const entries = new Map<string, string[]>(keys.map((key) => [key, []]));
        if (keys.length === 0) return entries;
        const rows: Array<{ identifier: string; profile_id: string }> = await manager.query(
          'SELECT identifier, profile_id FROM links WHERE identifier = ANY($1::text[]) ORDER BY identifier, profile_id',
          [keys],
        );
        for (const row of rows) entries.get(row.identifier)?.push(row.profile_id);
        return entries;
      },
      survivorsOf: (ids) => survivorsOf(manager, ids),
      loadProfiles: async (ids) => {
        if (ids.length === 0) return [];
        const [rows, links] = await Promise.all([
          manager.query('SELECT id, origin_received_at_ms, origin_at_ms, origin_event_id, merge_count FROM profiles WHERE id = ANY($1::uuid[])', [ids]) as Promise<
            Array<{ id: string; origin_received_at_ms: string; origin_at_ms: string; origin_event_id: string; merge_count: number }>
          >,
          manager.query('SELECT profile_id, type, value, linked_at_ms, last_seen_at_ms FROM links WHERE profile_id = ANY($1::uuid[])', [ids]) as Promise<
            Array<{ profile_id: string; type: string; value: string; linked_at_ms: string; last_seen_at_ms: string }>
          >,
        ]);
        const profiles = new Map<string, ProfileState>(
          rows.map((row) => [
            row.id,
            { id: row.id, originReceivedAt: Number(row.origin_received_at_ms), originAt: Number(row.origin_at_ms), originEventId: row.origin_event_id, mergeCount: row.merge_count, links: new Map() },
          ]),
        );
        for (const row of links) {
          const link: LinkState = { type: row.type, value: row.value, linkedAt: Number(row.linked_at_ms), lastSeenAt: Number(row.last_seen_at_ms) };
          profiles.get(row.profile_id)?.links.set(identifierKey(link), link);
        }
        const missing = ids.filter((id) => !profiles.has(id));
        if (missing.length > 0) throw new Error(`links name profiles that do not exist: ${missing.join(', ')}`);
        return [...profiles.values()];
      },
    };
    return transaction;
  }

  /** Bumps graph_version and records what changed under it; prunes the feed now and then. */
  private async recordChange(manager: EntityManager, identifiers: string[] | null, profiles: string[]): Promise<number> {
    const rows: Array<{ version: string }> = await manager.query(
      `WITH bumped AS (UPDATE graph_version SET version = version + 1 WHERE id = 1 RETURNING version)
       INSERT INTO graph_changes (version, identifiers, profiles) SELECT version, $1::text[], $2::uuid[] FROM bumped RETURNING version`,
      [identifiers, profiles],
    );
    const version = Number(rows[0]?.version);
    if (version % 100 === 0) await manager.query('DELETE FROM graph_changes WHERE version <= $1', [version - GRAPH_CHANGES_KEPT]);
    return version;
  }

  private async write(manager: EntityManager, changes: GraphChanges): Promise<void> {
    const { profiles, links, mergedAway, merges } = changes;
    const upsertProfiles = (rows: ReadonlyArray<Omit<ProfileState, 'links'> & { identifierCount: number; mergedInto: string | null }>) =>
      manager.query(
        `INSERT INTO profiles (id, origin_received_at_ms, origin_at_ms, origin_event_id, merge_count, identifier_count, merged_into)
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::int[], $6::int[], $7::uuid[])
         ON CONFLICT (id) DO UPDATE SET origin_received_at_ms = excluded.origin_received_at_ms, origin_at_ms = excluded.origin_at_ms,
           origin_event_id = excluded.origin_event_id, merge_count = excluded.merge_count, identifier_count = excluded.identifier_count,
           merged_into = excluded.merged_into, updated_at = now()`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.originReceivedAt),
          rows.map((r) => r.originAt),
          rows.map((r) => r.originEventId),
          rows.map((r) => r.mergeCount),
          rows.map((r) => r.identifierCount),
          rows.map((r) => r.mergedInto),
        ],
      );
    if (mergedAway.length > 0) {
      await upsertProfiles(mergedAway.map((away) => ({ ...away, identifierCount: 0, mergedInto: away.survivorId })));
      await manager.query('DELETE FROM links WHERE profile_id = ANY($1::uuid[])', [mergedAway.map((away) => away.id)]);
    }
    if (profiles.length > 0) await upsertProfiles(profiles.map((profile) => ({ ...profile, mergedInto: null })));
    if (links.length > 0) {
      await manager.query(
        `INSERT INTO links (identifier, profile_id, type, value, linked_at_ms, last_seen_at_ms)
         SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
         ON CONFLICT (identifier, profile_id) DO UPDATE SET linked_at_ms = excluded.linked_at_ms, last_seen_at_ms = excluded.last_seen_at_ms`,
        [links.map(identifierKey), links.map((l) => l.profileId), links.map((l) => l.type), links.map((l) => l.value), links.map((l) => l.linkedAt), links.map((l) => l.lastSeenAt)],
      );
    }
    if (merges.length > 0) await this.recordMerges(manager, merges);
  }

  private async recordMerges(manager: EntityManager, merges: readonly ProfileMerge[]): Promise<void> {
    await manager.query(
      `INSERT INTO merges (loser_id, survivor_id, merged_at, message_id, reason, identifiers)
       SELECT loser, survivor, at, message, reason, identifiers::jsonb
       FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[]) AS m(loser, survivor, at, message, reason, identifiers)
       ON CONFLICT (loser_id) DO UPDATE SET survivor_id = excluded.survivor_id, merged_at = excluded.merged_at, message_id = excluded.message_id,
         reason = excluded.reason, identifiers = excluded.identifiers, recorded_at = now()`,
      [merges.map((m) => m.loserId), merges.map((m) => m.survivorId), merges.map((m) => m.mergedAt), merges.map((m) => m.messageId), merges.map((m) => m.reason), merges.map((m) => JSON.stringify(m.identifiers))],
    );
  }
}

interface ErasureRow {
  request_id: string;
  profile_ids: string[];
  identifier_count: number;
  erased_at: Date;
  suppressions: SuppressedIdentifier[];
}

function recordedErasure(row: ErasureRow): RecordedErasure {
  return {
    erasure: { requestId: row.request_id, profileIds: row.profile_ids, identifierCount: row.identifier_count, erasedAt: row.erased_at.toISOString() },
    suppressed: row.suppressions,
  };
}

/** The surviving profile of each id the store knows, following merged_into (a chain, after merges of merges). */
async function survivorsOf(manager: EntityManager, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows: Array<{ start: string; id: string }> = await manager.query(
    `WITH RECURSIVE chain(start, id, merged_into, depth) AS (
       SELECT id, id, merged_into, 0 FROM profiles WHERE id = ANY($1::uuid[])
       UNION ALL
       SELECT c.start, p.id, p.merged_into, c.depth + 1 FROM profiles p JOIN chain c ON p.id = c.merged_into WHERE c.depth < 1000
     )
     SELECT start, id FROM chain WHERE merged_into IS NULL`,
    [ids],
  );
  return new Map(rows.map((row) => [row.start, row.id]));
}
