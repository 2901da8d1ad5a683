import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ErasureRequest, Identifier, ProfileErasure, SuppressedIdentifier } from '@kairos/contracts';
import { identifierKey, IdentifierTypes, normaliseEmail, normalisePhone } from '@kairos/identity-graph';
import { GraphWriter } from '../graph/graph-writer';
import { GraphTransaction, IdentityGraphRepository, RecordedErasure } from '../graph/identity-graph.repository';
import { suppressionHash } from '../graph/suppression-list';
import { IdentityLogRepository } from '../identity-log.repository';
import { identityMetrics } from '../identity-metrics';
import { IDENTITY_SETTINGS, IdentitySettings } from '../identity.settings';

export interface ErasureResult {
  erasure: ProfileErasure;
  /** false when the request named no known profile (nothing was erased; a named identifier is still suppressed). */
  found: boolean;
  /** true when this requestId had been carried out before; the recorded erasure is returned and published again. */
  repeated: boolean;
}

/**
 * Erases a customer: the whole merged component of the profile the request names (every profile merged into it,
 * its links and merge history, and other profiles' links to the same identifiers), and records the identifiers as
 * hashes in the suppression list — in one transaction under the graph lock, so it serialises with resolution. Then,
 * holding nothing, it publishes what the erasure recorded: the suppressions, a tombstone per profile id on the merges
 * topic, and an erasure record per profile id keyed by it, so the stage owning each profile's partition hears of it.
 * Idempotent on requestId: a repeated request publishes the same records again, which is also how a request whose
 * publish failed (or whose process died after the commit) completes; erasures left unpublished are published at
 * start-up and every IDENTITY_ERASURE_RETRY_SECONDS, so that a refused publish does not wait for a restart while
 * dispatch goes on mailing the erased person.
 *
 * A request by a shared identifier (a family e-mail) erases every profile linked to it: when in doubt, erase.
 */
@Injectable()
export class EraseProfileUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('identity');
  private timer: NodeJS.Timeout | undefined;
  private republishing: Promise<void> | undefined;

  constructor(
    @Inject(GraphWriter) private readonly writer: GraphWriter,
    @Inject(IdentityGraphRepository) private readonly repository: IdentityGraphRepository,
    @Inject(IdentityLogRepository) private readonly log: IdentityLogRepository,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {}

  async execute(request: ErasureRequest): Promise<ErasureResult> {
    const { recorded, found, repeated } = await this.writer.run((transaction) => this.erase(transaction, request));
    await this.publish(recorded);
    if (!repeated) identityMetrics().erasures.add(1);
    return { erasure: recorded.erasure, found, repeated };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.publishUnpublished(0);
    this.timer = setInterval(() => {
      // One round at a time; a round waits while the broker is away (the producer retries).
      this.republishing ??= this.publishUnpublished(this.settings.erasureRetryMs)
        .catch((error: Error) => this.logger.warn(`unpublished erasures not read: ${error.message}`))
        .finally(() => (this.republishing = undefined));
    }, this.settings.erasureRetryMs);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.republishing;
  }

  /** Publishes the erasures recorded at least `minAgeMs` ago and not published (younger ones are being published now). */
  private async publishUnpublished(minAgeMs: number): Promise<void> {
    const before = Date.now() - minAgeMs;
    for (const recorded of await this.repository.unpublishedErasures()) {
      if (Date.parse(recorded.erasure.erasedAt) > before) continue;
      await this.publish(recorded).then(
        () => this.logger.log(`erasure ${recorded.erasure.requestId} published after an earlier publish failed`),
        (error: Error) => this.logger.warn(`erasure ${recorded.erasure.requestId} is still unpublished, tried again in ${this.settings.erasureRetryMs / 1000} s: ${error.message}`),
      );
    }
  }

  private async erase(transaction: GraphTransaction, request: ErasureRequest): Promise<{ recorded: RecordedErasure; found: boolean; repeated: boolean }> {
    const { manager } = transaction;
    const earlier = await this.repository.erasure(manager, request.requestId);
    if (earlier) return { recorded: earlier, found: earlier.erasure.profileIds.length > 0, repeated: true };

    const named = request.identifier ? normalised(request.identifier) : undefined;
    const survivors = request.profileId
      ? [await this.repository.survivorOf(manager, request.profileId)].filter((id): id is string => id !== undefined)
      : named
        ? await this.repository.profilesWith(manager, named)
        : [];
    const component = survivors.length > 0 ? await this.repository.eraseComponent(manager, survivors) : { profileIds: [], identifiers: [] };

    const erasedAt = new Date().toISOString();
    const identifiers = named && !component.identifiers.some((id) => id.type === named.type && id.value === named.value) ? [...component.identifiers, named] : component.identifiers;
    // The erased profile ids too: an event of Kairos' own addressed to one of them (an open of a mail already sent)
    // must not bring state back under it, also when the accepted topic is replayed.
    const profiles = component.profileIds.map((value) => ({ type: IdentifierTypes.profileId, value }));
    const suppressed: SuppressedIdentifier[] = [...identifiers, ...profiles].map((identifier) => ({ hash: suppressionHash(identifier), type: identifier.type, requestId: request.requestId, erasedAt }));
    const recorded: RecordedErasure = { erasure: { requestId: request.requestId, profileIds: component.profileIds, identifierCount: identifiers.length, erasedAt }, suppressed };
    await this.repository.suppress(suppressed, manager);
    await this.repository.recordErasure(manager, recorded, identifiers.map(identifierKey));
    return { recorded, found: survivors.length > 0, repeated: false };
  }

  private async publish(recorded: RecordedErasure): Promise<void> {
    await this.log.appendErasure(recorded);
    await this.repository.markErasurePublished(recorded.erasure.requestId);
  }
}

/** A request names an identifier as a person would write it; the graph holds it normalised. */
function normalised(identifier: Identifier): Identifier {
  const value = identifier.value.trim();
  if (identifier.type === IdentifierTypes.email) return { type: identifier.type, value: normaliseEmail(value) ?? value.toLowerCase() };
  if (identifier.type === IdentifierTypes.phone) return { type: identifier.type, value: normalisePhone(value) ?? value };
  return { type: identifier.type, value };
}
