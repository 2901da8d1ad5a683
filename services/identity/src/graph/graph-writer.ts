import { Inject, Injectable } from '@nestjs/common';
import { Identifier } from '@kairos/contracts';
import { IdentityGraph } from '@kairos/identity-graph';
import { IDENTITY_SETTINGS, IdentitySettings } from '../identity.settings';
import { GraphTransaction, IdentityGraphRepository } from './identity-graph.repository';
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

  /** Runs `work` in a graph transaction and resolves once it committed. Nothing in `work` may wait for the broker. */
  run<T>(work: (transaction: GraphTransaction) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => this.exclusively(work));
    this.queue = next.catch(() => undefined);
    return next;
  }

  isSuppressed(identifier: Identifier): boolean {
    return this.suppressed.size > 0 && this.suppressed.has(suppressionHash(identifier));
  }

  private async exclusively<T>(work: (transaction: GraphTransaction) => Promise<T>): Promise<T> {
    try {
      let version = -1;
      const result = await this.repository.withGraphLock(async (transaction) => {
        await this.catchUp(transaction);
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

  private async catchUp(transaction: GraphTransaction): Promise<void> {
    const { version, changes } = await transaction.changesSince(this.version);
    // Versions are consecutive, so a complete feed has one entry per version; a gap is a pruned or scrubbed entry.
    const complete = this.version >= 0 && changes.length === version - this.version && changes.every((change) => change.identifiers !== null);
    if (complete) {
      for (const change of changes) this.graph.forget(change.identifiers ?? [], change.profiles);
    } else {
      this.graph.clear();
      this.suppressed = await this.repository.suppressedHashes(transaction.manager);
    }
  }
}
