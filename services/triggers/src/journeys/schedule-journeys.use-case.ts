import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Topics } from '@kairos/contracts';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { scheduleFingerprint } from '@kairos/journeys';
import { PartitionOwnership } from '@kairos/kafka';
import { Output, PartitionPasses } from '@kairos/state-store';
import { JourneysInForce } from './journeys-in-force';
import { RunJourneysUseCase } from './run-journeys.use-case';
import { isScheduleProgress, SCHEDULE_KEY_PREFIX, ScheduleProgress } from './triggers-state';

/** Profiles per transaction: one page of the scan, one commit, then live records get their turn. */
const PAGE = 250;
const LOG_EVERY_MS = 5_000;

/**
 * When the inactivity or recurring journeys in force change, every stored profile of the owned partitions is
 * scheduled under them (libs/journeys' `schedule` input): a win-back published today reaches a customer who was last
 * active a month ago and sends nothing more — from her updates alone it never would. Like segmentation's backfill:
 * pages of profiles as tasks on the partition's ordered path (StatefulProcessor.work), the progress committed with
 * them, partitions one after the other, a failed pass retried with back-off while the partition is this instance's.
 */
@Injectable()
export class ScheduleJourneysUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('triggers-schedule');
  private readonly passes: PartitionPasses;

  constructor(
    @Inject(RunJourneysUseCase) private readonly journeys: RunJourneysUseCase,
    @Inject(JourneysInForce) private readonly inForce: JourneysInForce,
    @Inject(DefinitionsFollower) private readonly definitions: DefinitionsFollower,
    @Inject(PartitionOwnership) private readonly ownership: PartitionOwnership,
  ) {
    this.passes = new PartitionPasses({
      name: 'journey schedules',
      pass: (partition) => this.pass(partition),
      owns: (partition) => this.ownership.owns(Topics.profileUpdates.name, partition),
      warn: (message) => this.logger.warn(message),
    });
    // After the processor's own listener (registered first): the partition is acquired when this runs.
    ownership.listen({ assigned: (partitions) => partitions.filter((owned) => owned.topic === Topics.profileUpdates.name).forEach((owned) => this.passes.request(owned.partition)) });
  }

  onApplicationBootstrap(): void {
    this.definitions.onChange(() => this.ownership.partitions().filter((owned) => owned.topic === Topics.profileUpdates.name).forEach((owned) => this.passes.request(owned.partition)));
  }

  onModuleDestroy(): Promise<void> {
    return this.passes.stop();
  }

  private async pass(partition: number): Promise<void> {
    const key = `${SCHEDULE_KEY_PREFIX}${partition}`;
    const { store, processor } = this.journeys;
    let visited = 0;
    let changed = 0;
    let started = 0;
    let lastLog = 0;
    let target = '';
    for (;;) {
      if (this.passes.isStopped || !this.ownership.owns(Topics.profileUpdates.name, partition)) return;
      if (!store.owned(partition)) throw new Error(`partition ${partition} is not acquired yet`);
      let finished = false;
      let page: string[] = [];
      await processor.work(partition, async (access, now) => {
        target = scheduleFingerprint(this.inForce.current());
        const stored = await access.get(key);
        const progress: ScheduleProgress = isScheduleProgress(stored) ? stored.schedules : { done: '' };
        if (progress.done === target) {
          finished = true;
          return [];
        }
        // Journeys that changed again while a pass ran: the pass starts over from the first key, for the newest.
        const cursor = progress.target === target ? (progress.cursor ?? '') : '';
        page = (await store.keysAfter(partition, cursor, PAGE)).filter((candidate) => !candidate.startsWith(SCHEDULE_KEY_PREFIX));
        await access.preload(page);
        const outputs: Output[] = [];
        for (const profileId of page) {
          const scheduled = await this.journeys.schedule(profileId, access, now);
          if (scheduled.changed) changed += 1;
          outputs.push(...scheduled.outputs);
        }
        const last = page.length === PAGE ? page[page.length - 1] : undefined;
        access.put(key, { schedules: last === undefined ? { done: target } : { done: progress.done, target, cursor: last } });
        return outputs;
      });
      if (finished) break;
      if (started === 0) {
        started = Date.now();
        this.logger.log(`journey schedules (${target || 'none left'}): partition ${partition}, ~${await store.countKeys(partition)} stored entries, started`);
      }
      visited += page.length;
      if (Date.now() - lastLog >= LOG_EVERY_MS && page.length === PAGE) {
        lastLog = Date.now();
        this.logger.log(`journey schedules: partition ${partition}, ${visited} profiles, ${changed} scheduled`);
      }
    }
    if (started > 0) this.logger.log(`journey schedules: partition ${partition} done, ${visited} profiles, ${changed} scheduled, in ${Date.now() - started} ms`);
  }
}
