import { Inject, Injectable } from '@nestjs/common';
import { ErasureRequest, Identifier, ProfileErasure, SuppressedIdentifier } from '@kairos/contracts';
import { IdentifierTypes, normaliseEmail, normalisePhone } from '@kairos/identity-graph';
import { GraphWriter } from '../graph/graph-writer';
import { IdentityGraphRepository } from '../graph/identity-graph.repository';
import { suppressionHash } from '../graph/suppression-list';
import { IdentityLogRepository } from '../identity-log.repository';
import { identityMetrics } from '../identity-metrics';

export interface ErasureResult {
  erasure: ProfileErasure;
  /** false when the request named no known profile (nothing was erased; a named identifier is still suppressed). */
  found: boolean;
  /** true when this requestId had been carried out before; the recorded erasure is returned. */
  repeated: boolean;
}

/**
 * Erases a customer: the whole merged component of the profile the request names (every profile merged into it,
 * its links and merge history, and other profiles' links to the same identifiers), records the identifiers as hashes
 * in the suppression list, and publishes the suppressions, tombstones and the erasure — before committing, so an
 * erasure is never half done. Idempotent on requestId.
 *
 * A request by a shared identifier (a family e-mail) erases every profile linked to it: when in doubt, erase.
 */
@Injectable()
export class EraseProfileUseCase {
  constructor(
    @Inject(GraphWriter) private readonly writer: GraphWriter,
    @Inject(IdentityGraphRepository) private readonly repository: IdentityGraphRepository,
    @Inject(IdentityLogRepository) private readonly log: IdentityLogRepository,
  ) {}

  execute(request: ErasureRequest): Promise<ErasureResult> {
    return this.writer.run(async ({ manager }) => {
      const earlier = await this.repository.erasure(manager, request.requestId);
      if (earlier) return { erasure: { requestId: request.requestId, ...earlier }, found: earlier.profileIds.length > 0, repeated: true };

      const named = request.identifier ? normalised(request.identifier) : undefined;
      const survivors = request.profileId
        ? [await this.repository.survivorOf(manager, request.profileId)].filter((id): id is string => id !== undefined)
        : named
          ? await this.repository.profilesWith(manager, named)
          : [];
      const component = survivors.length > 0 ? await this.repository.eraseComponent(manager, survivors) : { profileIds: [], identifiers: [] };

      const erasedAt = new Date().toISOString();
      const identifiers = named && !component.identifiers.some((id) => id.type === named.type && id.value === named.value) ? [...component.identifiers, named] : component.identifiers;
      const suppressed: SuppressedIdentifier[] = identifiers.map((identifier) => ({ hash: suppressionHash(identifier), type: identifier.type, requestId: request.requestId, erasedAt }));
      const erasure: ProfileErasure = { requestId: request.requestId, profileIds: component.profileIds, identifierCount: identifiers.length, erasedAt };
      await this.repository.suppress(suppressed, manager);
      await this.repository.recordErasure(manager, erasure);
      await this.log.appendErasure(erasure, survivors[0] ?? request.requestId, suppressed);
      this.writer.forgetErased(suppressed.map((entry) => entry.hash));
      identityMetrics().erasures.add(1);
      return { erasure, found: survivors.length > 0, repeated: false };
    });
  }
}

/** A request names an identifier as a person would write it; the graph holds it normalised. */
function normalised(identifier: Identifier): Identifier {
  const value = identifier.value.trim();
  if (identifier.type === IdentifierTypes.email) return { type: identifier.type, value: normaliseEmail(value) ?? value.toLowerCase() };
  if (identifier.type === IdentifierTypes.phone) return { type: identifier.type, value: normalisePhone(value) ?? value };
  return { type: identifier.type, value };
}
