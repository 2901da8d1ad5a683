import { Inject, Injectable } from '@nestjs/common';
import { Identifier, ProfileMerge } from '@kairos/contracts';
import { GraphChanges, identifierKey, LinkState, ProfileState } from '@kairos/identity-graph';
import { DataSource, EntityManager } from 'typeorm';

/** A transaction holding the graph lock; every query of a graph writer runs through one. */
export interface GraphTransaction {
  /** graph_version after this writer's bump: consecutive for one writer when nobody else wrote in between. */
  version: number;
  loadIdentifiers(keys: readonly string[]): Promise<Map<string, string[]>>;
  loadProfiles(ids: readonly string[]): Promise<ProfileState[]>;
  write(changes: GraphChanges): Promise<void>;
  manager: EntityManager;
}

export interface ErasedComponent {
  profileIds: string[];
  identifiers: Identifier[];
}

/**
 * The only code of the identity service that touches PostgreSQL. Writers serialise on a transaction-scoped
 * advisory lock of the schema, so two instances never interleave inside one batch; batched statements
 * (unnest arrays) keep a batch to a handful of round trips.
 */
@Injectable()
export class IdentityGraphRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Runs `work` in a transaction that holds the graph lock; commits when it resolves. */
  withGraphLock<T>(work: (transaction: GraphTransaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('kairos-identity-graph:' || current_schema()))`);
      const [rows] = (await manager.query('UPDATE graph_version SET version = version + 1 WHERE id = 1 RETURNING version')) as [Array<{ version: string }>, number];
      return work(this.transaction(manager, Number(rows[0]?.version)));
    });
  }

  /** The suppression list: hashes of erased identifiers. */
  async suppressedHashes(manager: EntityManager = this.dataSource.manager): Promise<Set<string>> {
    const rows: Array<{ hash: string }> = await manager.query('SELECT hash FROM suppressed_identifiers');
    return new Set(rows.map((row) => row.hash));
  }

  /** Resolves a profile id (a merged-away one too) to the surviving profile, or undefined when it is unknown. */
  async survivorOf(manager: EntityManager, profileId: string): Promise<string | undefined> {
    const rows: Array<{ id: string }> = await manager.query(
      `WITH RECURSIVE chain(id, merged_into, depth) AS (
         SELECT id, merged_into, 0 FROM profiles WHERE id = $1
         UNION ALL
         SELECT p.id, p.merged_into, c.depth + 1 FROM profiles p JOIN chain c ON p.id = c.merged_into WHERE c.depth < 1000
       )
       SELECT id FROM chain WHERE merged_into IS NULL`,
      [profileId],
    );
    return rows[0]?.id;
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

  async recordErasure(manager: EntityManager, erasure: { requestId: string; profileIds: string[]; identifierCount: number; erasedAt: string }): Promise<void> {
    await manager.query(
      'INSERT INTO erasures (request_id, profile_ids, identifier_count, erased_at) VALUES ($1, $2::uuid[], $3, $4) ON CONFLICT (request_id) DO NOTHING',
      [erasure.requestId, erasure.profileIds, erasure.identifierCount, erasure.erasedAt],
    );
  }

  async erasure(manager: EntityManager, requestId: string): Promise<{ profileIds: string[]; identifierCount: number; erasedAt: string } | undefined> {
    const rows: Array<{ profile_ids: string[]; identifier_count: number; erased_at: Date }> = await manager.query(
      'SELECT profile_ids, identifier_count, erased_at FROM erasures WHERE request_id = $1',
      [requestId],
    );
    const row = rows[0];
    return row && { profileIds: row.profile_ids, identifierCount: row.identifier_count, erasedAt: row.erased_at.toISOString() };
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

  private transaction(manager: EntityManager, version: number): GraphTransaction {
    return {
      version,
      manager,
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
      write: (changes) => this.write(manager, changes),
    };
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
