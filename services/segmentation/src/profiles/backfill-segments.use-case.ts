import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Topics } from '@kairos/contracts';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { PartitionOwnership } from '@kairos/kafka';
import { Output, PartitionPasses } from '@kairos/state-store';
import { segmentationMetrics } from '../segmentation-metrics';
import { SegmentProfilesUseCase } from './segment-profiles.use-case';
import { BACKFILL_KEY_PREFIX, BackfillProgress, isProfile, SegmentationState, SegmentVersions } from './segmentation-state';
import { PROFILE_MODEL_KEY, SegmentRelease, SegmentsInForce } from './segments-in-force';

/** Profiles evaluated per transaction: one page of the scan, one commit, then live records get their turn. */
const PAGE = 250;
/** A progress line at most this often per partition (and one at the start and the end). */
const LOG_EVERY_MS = 5_000;

const versionsOf = (release: SegmentRelease): SegmentVersions => ({
  ...Object.fromEntries(release.segments.map((segment) => [segment.id, segment.version])),
  ...(release.modelVersion > 0 ? { [PROFILE_MODEL_KEY]: release.modelVersion } : {}),
});
const sameVersions = (a: SegmentVersions, b: SegmentVersions): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((id) => a[id] === b[id]);
};

/**
 * A new, changed or removed segment is evaluated over every stored profile, partition by partition, while live
 * processing goes on: each page of profiles is a task on the partition's ordered path (StatefulProcessor.work), so
 * the backfill never races the profile's one writer, and its progress is committed with the profiles it evaluated
 * (a restart or a partition moving to another instance continues from the last page). Partitions take turns and a
 * failed backfill is retried (PartitionPasses). Changes carry cause backfill.
 */
@Injectable()
export class BackfillSegmentsUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('segmentation-backfill');
  private readonly passes: PartitionPasses;

  constructor(
    @Inject(SegmentProfilesUseCase) private readonly profiles: SegmentProfilesUseCase,
    @Inject(SegmentsInForce) private readonly segmentsInForce: SegmentsInForce,
    @Inject(DefinitionsFollower) private readonly definitions: DefinitionsFollower,
    @Inject(PartitionOwnership) private readonly ownership: PartitionOwnership,
  ) {
    this.passes = new PartitionPasses({
      name: 'backfill',
      pass: (partition) => this.backfill(partition),
      owns: (partition) => this.ownership.owns(Topics.resolved.name, partition),
      warn: (message) => this.logger.warn(message),
    });
    // After the processor's own listener (registered first): the partition is acquired when this runs.
    ownership.listen({ assigned: (partitions) => partitions.filter((owned) => owned.topic === Topics.resolved.name).forEach((owned) => this.request(owned.partition)) });
  }

  onApplicationBootstrap(): void {
    // The partitions the group gave this instance, whether or not the store holds them right now (it lets go of one
    // after a failed commit and takes it back on its next tick): a backfill of one it does not hold yet is retried.
    this.definitions.onChange(() => this.ownership.partitions().filter((owned) => owned.topic === Topics.resolved.name).forEach((owned) => this.request(owned.partition)));
  }

  onModuleDestroy(): Promise<void> {
    return this.passes.stop();
  }

  /** Makes sure the partition's profiles are (or will be) evaluated under the release in force. */
  request(partition: number): void {
    this.passes.request(partition);
  }

  private async backfill(partition: number): Promise<void> {
    const key = `${BACKFILL_KEY_PREFIX}${partition}`;
    const { store, processor } = this.profiles;
    let total: number | undefined;
    let evaluated = 0;
    let changed = 0;
    let lastLog = 0;
    let started = 0;
    let counted = false;
    try {
      for (;;) {
        if (this.passes.isStopped || !this.ownership.owns(Topics.resolved.name, partition)) return;
        // Still ours, but the store let go of it after a failed commit and has not taken it back yet.
        if (!store.owned(partition)) throw new Error(`partition ${partition} is not acquired yet`);
        let finished = false;
        let page: string[] = [];
        let label = '';
        await processor.work(partition, async (access, now) => {
          const release = this.segmentsInForce.current();
          const target = versionsOf(release);
          const progress = ((await access.get(key)) as BackfillProgress | undefined) ?? { backfill: true, done: {} };
          if (sameVersions(progress.done, target)) {
            finished = true;
            return [];
          }
          // A release that changed again while a backfill ran restarts it from the first key, for the newest release.
          const cursor = progress.target && sameVersions(progress.target, target) ? (progress.cursor ?? '') : '';
          // A new profile model (or its removal) changes what every segment answers: all of them are backfilled.
          const modelChanged = progress.done[PROFILE_MODEL_KEY] !== target[PROFILE_MODEL_KEY];
          const backfilled = [
            ...release.segments.filter((segment) => modelChanged || progress.done[segment.id] !== segment.version).map((segment) => ({ segmentId: segment.id, version: segment.version })),
            ...Object.entries(progress.done)
              .filter(([id]) => target[id] === undefined && id !== PROFILE_MODEL_KEY)
              .map(([segmentId, version]) => ({ segmentId, version })),
          ];
          label = backfilled.map((segment) => `${segment.segmentId} v${segment.version}`).join(', ');
          page = (await store.keysAfter(partition, cursor, PAGE)).filter((candidate) => !candidate.startsWith(BACKFILL_KEY_PREFIX));
          const input = { kind: 'backfill' as const, ...backfilled[0], release: release.fingerprint, ...(backfilled.length > 1 ? { segments: backfilled } : {}) };
          await access.preload(page);
          const outputs: Output[] = [];
          for (const profileId of page) {
            const entry: SegmentationState | undefined = await access.get(profileId);
            if (!isProfile(entry)) continue; // a redirect or an erased profile: nothing to evaluate
            const evaluatedOutputs = this.profiles.backfillProfile(entry, release, now, input, access);
            if (evaluatedOutputs.length > 0) changed += 1;
            outputs.push(...evaluatedOutputs);
          }
          const last = page.length === PAGE ? page[page.length - 1] : undefined;
          access.put(key, last === undefined ? { backfill: true, done: target } : { backfill: true, done: progress.done, target, cursor: last });
          return outputs;
        });
        if (finished) break;
        if (!counted) {
          counted = true;
          started = Date.now();
          total = await store.countKeys(partition);
          segmentationMetrics().backfillsRunning.add(1);
          this.logger.log(`backfill of ${label}: partition ${partition}, ${total} stored profiles, started`);
        }
        evaluated += page.length;
        segmentationMetrics().backfilledProfiles.add(page.length, { partition: String(partition) });
        if (Date.now() - lastLog >= LOG_EVERY_MS && page.length === PAGE) {
          lastLog = Date.now();
          this.logger.log(`backfill of ${label}: partition ${partition}, ${evaluated} of ~${total} profiles (${total ? Math.min(100, Math.round((evaluated * 100) / total)) : 100}%), ${changed} changed`);
        }
      }
      if (counted) this.logger.log(`backfill: partition ${partition} done, ${evaluated} profiles evaluated, ${changed} changed, in ${Date.now() - started} ms`);
    } finally {
      if (counted) segmentationMetrics().backfillsRunning.add(-1);
    }
  }
}
