import { EventResolution, ProfileMerge } from '@kairos/contracts';

/**
 * What one accepted record gave, as stored with the batch that applied it: enough, with the record itself, to
 * publish exactly what was published the first time (the resolved event and the merges it caused) or to refuse it
 * again with the same reason.
 */
export type RecordOutput =
  | { profileId: string; resolution: EventResolution; merges?: ProfileMerge[] }
  | { rejected: string }
  | { suppressed: true };

/** Input offset -> output, for the records of one partition that one batch applied. */
export type BatchOutputs = Record<string, RecordOutput>;

/**
 * The outputs with the erased profiles' records turned into suppressed ones, so an erasure leaves none of their
 * identifiers behind and a redelivery does not publish them again. A merge involves two profiles of one component,
 * which an erasure deletes whole, so the record's profile decides for its merges too.
 */
export function withoutProfiles(outputs: BatchOutputs, erased: ReadonlySet<string>): BatchOutputs {
  return Object.fromEntries(Object.entries(outputs).map(([offset, output]) => [offset, 'profileId' in output && erased.has(output.profileId) ? { suppressed: true } : output]));
}
