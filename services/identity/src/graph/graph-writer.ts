import { Inject, Injectable } from '@nestjs/common';
import { Identifier } from '@kairos/contracts';
import { IdentityGraph } from '@kairos/identity-graph';
import { IDENTITY_SETTINGS, IdentitySettings } from '../identity.settings';
import { GraphTransaction, IdentityGraphRepository, PrefetchedGraph } from './identity-graph.repository';
import { suppressionHash } from './suppression-list';

/**
 * The one writer of the graph in this process. Work runs one at a time here (the in-memory graph is shared by the
 * partitions this instance consumes) and under the graph lock across instances. The cache — the loaded part of the
 * graph and the suppression list — is brought up to date under the lock from the change feed: what other writers
 * touched since this instance's last transaction is forgotten and read again when needed. After an erasure, a
 * feed this instance fell behind, or any failure, the whole cache is dropped.
 */
@Injectable()
export class GraphWriter {
  readonly graph: IdentityGraph;
  private suppressed = new Set<string>();
  /** graph_version the cache reflects; -1: nothing trustworthy. */
  private version = -1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(IdentityGraphRepository) private readonly repository: IdentityGraphRepository,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {
    this.graph = new IdentityGraph(settings.rules);
  }

  /**
   * Runs `work` in a graph transaction and resolves once it committed. Nothing in `work` may wait for the broker.
   * What `prefetched` holds that no write touched since it was read is added to the cache before `work` runs.
   */
  run<T>(work: (transaction: GraphTransaction) => Promise<T>, prefetched?: PrefetchedGraph): Promise<T> {
    const next = this.queue.then(() => this.exclusively(work, prefetched));
    this.queue = next.catch(() => undefined);
    return next;
  }

  isSuppressed(identifier: Identifier): boolean {
    return this.suppressed.size > 0 && this.suppressed.has(suppressionHash(identifier));
  }

  /** Reads what these identifier keys need without the lock (see IdentityGraphRepository.prefetch); undefined if that fails. */
  prefetch(keys: readonly string[]): Promise<PrefetchedGraph | undefined> {
    // `keys` are what the cache lacks (graph.unknownKeys). A profile deleted between the two reads (an erasure) fails
    // the read; the batch then reads under the lock.
    return keys.length === 0 ? Promise.resolve(undefined) : this.repository.prefetch(keys).catch(() => undefined);
  }

  private async exclusively<T>(work: (transaction: GraphTransaction) => Promise<T>, prefetched: PrefetchedGraph | undefined): Promise<T> {
    try {
      let version = -1;
      const result = await this.repository.withGraphLock(async (transaction) => {
        await this.catchUp(transaction, prefetched);
        const outcome = await work(transaction);
        version = transaction.version;
        return outcome;
      });
      this.version = version;
      this.graph.evict(this.settings.cacheProfiles);
      return result;
    } catch (error) {
      // The transaction rolled back (or its commit failed): what the graph applied in memory never happened.
      this.graph.clear();
      this.version = -1;
      throw error;
    }
  }

  private async catchUp(transaction: GraphTransaction, prefetched: PrefetchedGraph | undefined): Promise<void> {
    // The feed since the older of the cache's version and the prefetch's, to check both.
    const since = Math.min(this.version, prefetched?.version ?? this.version);
    const { version, changes } = await transaction.changesSince(since);
    // Versions are consecutive, so a complete feed has one entry per version; a gap is a pruned or scrubbed entry.
    const complete = since >= 0 && changes.length === version - since && changes.every((change) => change.identifiers !== null);
    if (!complete) {
      this.graph.clear();
      this.suppressed = await this.repository.suppressedHashes(transaction.manager);
      return;
    }
    for (const change of changes) if (change.version > this.version) this.graph.forget(change.identifiers ?? [], change.profiles);
    if (!prefetched) return;
    const touchedKeys = new Set<string>();
    const touchedProfiles = new Set<string>();
    for (const change of changes) {
      if (change.version <= prefetched.version) continue;
      for (const key of change.identifiers ?? []) touchedKeys.add(key);
      for (const id of change.profiles) touchedProfiles.add(id);
    }
    // The cache may already hold a key or profile read later than the prefetch: it wins.
    this.graph.learnIdentifiers([...prefetched.identifiers].filter(([key]) => !touchedKeys.has(key) && !this.graph.knows(key)));
    this.graph.learnProfiles(prefetched.profiles.filter((profile) => !touchedProfiles.has(profile.id) && !this.graph.profile(profile.id)));
  }
}
