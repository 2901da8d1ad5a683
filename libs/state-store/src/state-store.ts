import { PartitionMovedError } from '@kairos/kafka';
import { prepared, queryPrepared, withPooledClient } from '@kairos/persistence';
import { LRUCache } from 'lru-cache';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { stateMetrics } from './state-metrics';
import { StateTransaction } from './state-transaction';
import { Timer } from './timer';

/** Another instance took the partition over (its epoch is newer): this instance must drop the partition's work. */
export class PartitionFencedError extends PartitionMovedError {
  override readonly name = 'PartitionFencedError';
}

/** The partition is not (or no longer) owned by this instance. */
export class PartitionNotOwnedError extends Error {
  override readonly name = 'PartitionNotOwnedError';
}

export interface StateStoreOptions<S = unknown> {
  dataSource: DataSource;
  /** Names this store among the stores of the service's schema. */
  name: string;
  /** Serialised states kept in memory per owned partition. */
  cacheEntriesPerPartition?: number;
  /**
   * A state as stored (JSON; JSON.stringify unless given). A handler whose outputs carry the state can serialise it
   * once for both.
   */
  serialise?: (state: S) => string;
}

/** What this instance holds of a partition it owns. */
export interface OwnedPartitionState {
  readonly partition: number;
  /** The fencing token taken at acquisition; a commit under an older epoch fails. */
  readonly epoch: string;
  /** Next offset per input topic: records before it are reflected in the state. */
  readonly offsets: Map<string, bigint>;
  streamTime: number;
  /** Serialised state by key (null: known to be absent), only of committed state. */
  readonly cache: LRUCache<string, string | { absent: true }>;
  /**
   * A lower bound of the partition's committed timers' due times, when known (undefined: ask the database). Commits
   * lower it to the timers they set; fired or cancelled timers leave it low until the next refresh: early, never late.
   */
  nextDue: number | undefined;
}

const ABSENT = { absent: true } as const;

/**
 * Per-partition state in PostgreSQL: states by key, pending timers, and the input offsets the state reflects, all
 * written in one transaction, so a redelivered record whose offset the state already reflects changes nothing.
 *
 * One writer per partition: acquiring a partition bumps its epoch, and every commit checks it. kafkajs tells a member
 * of a revocation only after the partition has a new owner, so the old owner's late commit is refused
 * (PartitionFencedError) rather than trusted to stop in time. Caches hold only owned partitions and are dropped on
 * release.
 */
export class StateStore<S> {
  private readonly partitions = new Map<number, OwnedPartitionState>();
  private readonly cacheSize: number;

  readonly serialise: (state: S) => string;

  constructor(private readonly options: StateStoreOptions<S>) {
    this.cacheSize = options.cacheEntriesPerPartition ?? 50_000;
    this.serialise = options.serialise ?? ((state) => JSON.stringify(state));
  }

  get name(): string {
    return this.options.name;
  }

  /** Takes ownership: a new epoch fences the previous owner; the offsets and stream time are read back. */
  async acquire(partition: number): Promise<OwnedPartitionState> {
    const rows = await this.query<{ epoch: string; offsets: Record<string, string>; stream_time_ms: string }>(
      `INSERT INTO state_partitions (store, partition) VALUES ($1, $2)
       ON CONFLICT (store, partition) DO UPDATE SET epoch = state_partitions.epoch + 1
       RETURNING epoch, offsets, stream_time_ms`,
      [this.name, partition],
    );
    const row = rows[0];
    const owned: OwnedPartitionState = {
      partition,
      epoch: row.epoch,
      offsets: new Map(Object.entries(row.offsets).map(([topic, offset]) => [topic, BigInt(offset)])),
      streamTime: Number(row.stream_time_ms),
      cache: new LRUCache({ max: this.cacheSize }),
      nextDue: undefined,
    };
    this.partitions.set(partition, owned);
    return owned;
  }

  release(partition: number): void {
    this.partitions.get(partition)?.cache.clear();
    this.partitions.delete(partition);
  }

  owned(partition: number): OwnedPartitionState | undefined {
    return this.partitions.get(partition);
  }

  ownedPartitions(): OwnedPartitionState[] {
    return [...this.partitions.values()];
  }

  begin(partition: number): StateTransaction<S> {
    const owned = this.partitions.get(partition);
    if (!owned) throw new PartitionNotOwnedError(`partition ${partition} of store ${this.name} is not owned by this instance`);
    return new StateTransaction<S>(this, owned);
  }

  /** Serialised states of these keys, from the cache or one query; absent keys map to undefined. */
  async loadSerialised(owned: OwnedPartitionState, keys: readonly string[]): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    const missing: string[] = [];
    for (const key of keys) {
      const cached = owned.cache.get(key);
      if (cached === undefined) missing.push(key);
      else found.set(key, typeof cached === 'string' ? cached : undefined);
    }
    if (missing.length > 0) {
      const rows = await this.query<{ key: string; value: string }>('SELECT key, value::text AS value FROM state_entries WHERE store = $1 AND key = ANY($2::text[])', [this.name, missing]);
      const values = new Map(rows.map((row) => [row.key, row.value]));
      for (const key of missing) {
        const value = values.get(key);
        found.set(key, value);
        if (this.partitions.get(owned.partition) === owned) owned.cache.set(key, value ?? ABSENT);
      }
    }
    return found;
  }

  /**
   * Committed states of these keys, whichever partition and instance they belong to: a read beside the writers (it
   * sees each key as of its last commit), for what adds up partitions' shares. Absent keys are left out.
   */
  async readCommitted(keys: readonly string[]): Promise<Map<string, S>> {
    if (keys.length === 0) return new Map();
    const rows = await this.query<{ key: string; value: string }>('SELECT key, value::text AS value FROM state_entries WHERE store = $1 AND key = ANY($2::text[])', [this.name, keys]);
    return new Map(rows.map((row) => [row.key, JSON.parse(row.value) as S]));
  }

  /** Keys with state in a partition, in key order after `after` (a page of a scan: a backfill over stored profiles). */
  async keysAfter(partition: number, after: string, limit: number): Promise<string[]> {
    const rows = await this.query<{ key: string }>('SELECT key FROM state_entries WHERE store = $1 AND partition = $2 AND key > $3 ORDER BY key LIMIT $4', [this.name, partition, after, limit]);
    return rows.map((row) => row.key);
  }

  /** How many keys have state in a partition (the total a scan's progress is told against). */
  async countKeys(partition: number): Promise<number> {
    const rows = await this.query<{ n: string }>('SELECT count(*) AS n FROM state_entries WHERE store = $1 AND partition = $2', [this.name, partition]);
    return Number(rows[0]?.n ?? 0);
  }

  /** Pending timers of a partition due at or before `upTo`, after the cursor, in firing order. */
  async dueTimers(partition: number, upTo: number, after: Timer | undefined, limit: number): Promise<Timer[]> {
    const rows = await this.query<{ key: string; name: string; due_at_ms: string; payload: unknown }>(
      `SELECT key, name, due_at_ms, payload FROM state_timers
       WHERE store = $1 AND partition = $2 AND due_at_ms <= $3 AND (due_at_ms, key, name) > ($4, $5, $6)
       ORDER BY due_at_ms, key, name LIMIT $7`,
      [this.name, partition, upTo, after?.dueAt ?? -1, after?.key ?? '', after?.name ?? '', limit],
    );
    return rows.map((row) => ({ key: row.key, name: row.name, dueAt: Number(row.due_at_ms), ...(row.payload === null ? {} : { payload: row.payload }) }));
  }

  /** The earliest pending timer of a partition, read from the database into `nextDue`. */
  async refreshNextDue(owned: OwnedPartitionState): Promise<number> {
    const rows = await this.query<{ due: string | null }>('SELECT min(due_at_ms) AS due FROM state_timers WHERE store = $1 AND partition = $2', [this.name, owned.partition]);
    owned.nextDue = rows[0]?.due == null ? Number.POSITIVE_INFINITY : Number(rows[0].due);
    return owned.nextDue;
  }

  /** How many timers are pending in the partitions this instance owns (for metrics and tests). */
  async pendingTimers(): Promise<number> {
    const rows = await this.query<{ n: string }>('SELECT count(*) AS n FROM state_timers WHERE store = $1 AND partition = ANY($2::int[])', [this.name, [...this.partitions.keys()]]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Writes a transaction's states, timers, offsets and stream time atomically, under the partition's epoch. On success
   * the cache and nextDue follow; on a fencing failure the partition is released here.
   */
  async commit(transaction: StateTransaction<S>): Promise<void> {
    const { owned } = transaction;
    const writes = transaction.changedStates();
    const timers = transaction.timerChanges();
    let started = 0;
    await withPooledClient(this.options.dataSource, async (client) => {
      started = performance.now();
      await client.query('BEGIN');
      try {
        // Merged into the stored offsets: a transaction names only the topics it advanced (a timer round, none).
        const offsets = Object.fromEntries([...transaction.offsets()].map(([topic, offset]) => [topic, offset.toString()]));
        const fenced = await run(client, 'UPDATE state_partitions SET offsets = offsets || $1::jsonb, stream_time_ms = $2 WHERE store = $3 AND partition = $4 AND epoch = $5', [
          offsets,
          transaction.streamTime,
          this.name,
          owned.partition,
          owned.epoch,
        ]);
        if (fenced.rowCount !== 1) throw new PartitionFencedError(`partition ${owned.partition} of store ${this.name} was taken over by another instance`);
        const upserts = [...writes].filter((entry): entry is [string, string] => entry[1] !== undefined);
        const deletes = [...writes].filter(([, value]) => value === undefined).map(([key]) => key);
        if (upserts.length > 0) {
          // The states go as one JSON array, joined from their serialisations: a text[] parameter would escape every
          // quote of every state on the way out and unescape it in the server.
          await run(
            client,
            `INSERT INTO state_entries (store, key, partition, value)
             SELECT $1, k.key, $2, v.value FROM unnest($3::text[]) WITH ORDINALITY AS k(key, n)
             JOIN jsonb_array_elements($4::jsonb) WITH ORDINALITY AS v(value, n) USING (n)
             ON CONFLICT (store, key) DO UPDATE SET value = excluded.value, partition = excluded.partition`,
            [this.name, owned.partition, upserts.map(([key]) => key), `[${upserts.map(([, value]) => value).join(',')}]`],
          );
        }
        if (deletes.length > 0) await run(client, 'DELETE FROM state_entries WHERE store = $1 AND key = ANY($2::text[])', [this.name, deletes]);
        if (timers.clearedKeys.length > 0) await run(client, 'DELETE FROM state_timers WHERE store = $1 AND key = ANY($2::text[])', [this.name, timers.clearedKeys]);
        // One statement per timer name (a store uses one or a few), every condition on the primary key: joined with
        // unnest instead, a table not yet analysed (a new deployment's first minutes) was hashed whole — 23 ms a batch, not 2.
        for (const [name, keys] of timers.cancelled) await run(client, 'DELETE FROM state_timers WHERE store = $1 AND name = $2 AND key = ANY($3::text[])', [this.name, name, keys]);
        if (timers.set.length > 0) {
          await run(
            client,
            `INSERT INTO state_timers (store, key, name, partition, due_at_ms, payload)
             SELECT $1, key, name, $2, due, payload::jsonb FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[]) AS t(key, name, due, payload)
             ON CONFLICT (store, key, name) DO UPDATE SET due_at_ms = excluded.due_at_ms, payload = excluded.payload, partition = excluded.partition`,
            [
              this.name,
              owned.partition,
              timers.set.map((timer) => timer.key),
              timers.set.map((timer) => timer.name),
              timers.set.map((timer) => timer.dueAt),
              timers.set.map((timer) => (timer.payload === undefined ? null : JSON.stringify(timer.payload))),
            ],
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (error instanceof PartitionFencedError) this.release(owned.partition);
        throw error;
      }
    });
    const duration = (performance.now() - started) / 1000;
    for (const [topic, offset] of transaction.offsets()) owned.offsets.set(topic, offset);
    owned.streamTime = transaction.streamTime;
    for (const [key, value] of writes) owned.cache.set(key, value ?? ABSENT);
    // Unknown stays unknown: the new timers say nothing of the committed ones before them.
    if (owned.nextDue !== undefined) for (const timer of timers.set) owned.nextDue = Math.min(owned.nextDue, timer.dueAt);
    stateMetrics().commitDuration.record(duration, { store: this.name });
  }

  private query<T>(sql: string, parameters: unknown[]): Promise<T[]> {
    return queryPrepared<T>(this.options.dataSource, sql, parameters);
  }
}

/** A statement of the store, prepared once per connection (they run per batch, with the same text every time). */
function run(client: PoolClient, text: string, values: unknown[]) {
  return client.query(prepared(text, values));
}
