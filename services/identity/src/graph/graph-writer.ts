import { Inject, Injectable } from '@nestjs/common';
import { Identifier } from '@kairos/contracts';
import { IdentityGraph } from '@kairos/identity-graph';
import { IDENTITY_SETTINGS, IdentitySettings } from '../identity.settings';
import { GraphTransaction, IdentityGraphRepository } from './identity-graph.repository';
import { suppressionHash } from './suppression-list';

/**
 * The one writer of the graph in this process. Work runs one at a time here (the in-memory graph is shared by the
 * partitions this instance consumes) and under the graph lock across instances. The cache — the loaded part of the
 * graph and the suppression list — is kept only while graph_version shows that nobody else wrote since this
 * instance last did; otherwise, or after any failure, it is dropped and read again.
 */
@Injectable()
export class GraphWriter {
  readonly graph: IdentityGraph;
  private suppressed = new Set<string>();
  private version = -1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(IdentityGraphRepository) private readonly repository: IdentityGraphRepository,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {
    this.graph = new IdentityGraph(settings.rules);
  }

  run<T>(work: (transaction: GraphTransaction) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => this.exclusively(work));
    this.queue = next.catch(() => undefined);
    return next;
  }

  isSuppressed(identifier: Identifier): boolean {
    return this.suppressed.size > 0 && this.suppressed.has(suppressionHash(identifier));
  }

  /** After an erasure by this instance: the erased part of the graph is gone, and its identifiers are suppressed. */
  forgetErased(hashes: readonly string[]): void {
    this.graph.clear();
    for (const hash of hashes) this.suppressed.add(hash);
  }

  private async exclusively<T>(work: (transaction: GraphTransaction) => Promise<T>): Promise<T> {
    try {
      return await this.repository.withGraphLock(async (transaction) => {
        if (transaction.version !== this.version + 1) {
          this.graph.clear();
          this.suppressed = await this.repository.suppressedHashes(transaction.manager);
        }
        const result = await work(transaction);
        this.graph.evict(this.settings.cacheProfiles);
        this.version = transaction.version;
        return result;
      });
    } catch (error) {
      // The transaction rolled back: what the graph applied in memory never happened.
      this.graph.clear();
      this.version = -1;
      throw error;
    }
  }
}
