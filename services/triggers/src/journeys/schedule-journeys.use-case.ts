import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Topics } from '@kairos/contracts';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { scheduleFingerprint } from '@kairos/journeys';
import { backoffDelay, PartitionOwnership, RetryPolicy } from '@kairos/kafka';
import { Output } from '@kairos/state-store';
import { JourneysInForce } from './journeys-in-force';
import { RunJourneysUseCase } from './run-journeys.use-case';
import { isScheduleProgress, SCHEDULE_KEY_PREFIX, ScheduleProgress } from './triggers-state';

/** Profiles per transaction: one page of the scan, one commit, then live records get their turn. */
const PAGE = 250;
const LOG_EVERY_MS = 5_000;
/** A pass that failed (the database away) tries again after ~2 s, doubling per failure up to ~a minute. */
const RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, initialDelayMs: 2_000, maxDelayMs: 60_000 };

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
  private readonly running = new Map<number, Promise<void>>();
  private readonly again = new Set<number>();
  private readonly failures = new Map<number, number>();
  private readonly retries = new Map<number, NodeJS.Timeout>();
  private turn: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    @Inject(RunJourneysUseCase) private readonly journeys: RunJourneysUseCase,
    @Inject(JourneysInForce) private readonly inForce: JourneysInForce,
    @Inject(DefinitionsFollower) private readonly definitions: DefinitionsFollower,
    @Inject(PartitionOwnership) private readonly ownership: PartitionOwnership,
  ) {
    // After the processor's own listener (registered first): the partition is acquired when this runs.
    ownership.listen({ assigned: (partitions) => partitions.filter((owned) => owned.topic === Topics.profileUpdates.name).forEach((owned) => this.request(owned.partition)) });
  }

  onApplicationBootstrap(): void {
    this.definitions.onChange(() => this.ownership.partitions().filter((owned) => owned.topic === Topics.profileUpdates.name).forEach((owned) => this.request(owned.partition)));
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    await Promise.all(this.running.values());
  }

  /** Makes sure the partition's profiles are (or will be) scheduled under the journeys in force. */
  request(partition: number): void {
    if (this.stopped) return;
    if (this.running.has(partition)) {
      this.again.add(partition);
      return;
    }
    clearTimeout(this.retries.get(partition));
    this.retries.delete(partition);
    const run = this.turn
      .then(() => this.pass(partition))
      .then(
        () => void this.failures.delete(partition),
        (error: Error) => {
          const failures = (this.failures.get(partition) ?? 0) + 1;
          this.failures.set(partition, failures);
          const delay = backoffDelay(RETRY, failures);
          this.logger.warn(`journey schedules of partition ${partition} stopped: ${error.message}; trying again in ${(delay / 1000).toFixed(1)} s`);
          if (this.stopped) return;
          const timer = setTimeout(() => {
            this.retries.delete(partition);
            if (this.ownership.owns(Topics.profileUpdates.name, partition)) this.request(partition);
            else this.failures.delete(partition);
          }, delay);
          timer.unref();
          this.retries.set(partition, timer);
        },
      )
      .finally(() => {
        this.running.delete(partition);
        if (this.again.delete(partition)) this.request(partition);
      });
    this.running.set(partition, run);
    this.turn = run;
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
      if (this.stopped || !this.ownership.owns(Topics.profileUpdates.name, partition)) return;
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
