import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SplitWinnerRecord, splitWinnerKey, Topics } from '@kairos/contracts';
import { describeError, RecordProducer } from '@kairos/kafka';
import { decideSplitWinner, winnerSplit } from '@kairos/journeys';
import { DataSource } from 'typeorm';
import { JourneysInForce } from './journeys-in-force';
import { RunJourneysUseCase } from './run-journeys.use-case';
import { SplitWinners } from './split-winners';

/** How often the tallies of undecided splits are added up and tested. */
const DECIDE_EVERY_MS = 5_000;
/**
 * A decision takes effect this long after it is made, by event time: every triggers instance reads the topic within
 * a second, so by then all of them know it, and an entry's variant does not depend on which instance saw it first —
 * a replay, which knows the decision from the start, picks as the live run did.
 */
export const WINNER_EFFECTIVE_AFTER_MS = 60_000;

/**
 * Decides the splits that have a winner rule: every few seconds it adds up the partitions' committed tallies of each
 * undecided split of the journeys in force and tests them (libs/journeys `decideSplitWinner`). A decision is stored
 * first — the first one stored for a split stands, whichever instance made it — and then published as stored; one
 * stored but not seen on the topic (a crash in between) is published again at start.
 */
@Injectable()
export class SplitWinnerDecider implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('triggers');
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private lastFailure: string | undefined;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(RecordProducer) private readonly producer: RecordProducer,
    @Inject(SplitWinners) private readonly winners: SplitWinners,
    @Inject(JourneysInForce) private readonly journeys: JourneysInForce,
    @Inject(RunJourneysUseCase) private readonly runJourneys: RunJourneysUseCase,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.round = this.round.then(() => this.decideAll());
    }, DECIDE_EVERY_MS);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }

  /** One round; a failure (the database or broker away) is logged once and the next round tries again. */
  async decideAll(): Promise<void> {
    try {
      const stored: Array<{ key: string; record: SplitWinnerRecord }> = await this.dataSource.query('SELECT key, record FROM split_winners');
      for (const row of stored) if (!this.winners.has(row.key)) await this.publish(row.key, row.record);
      for (const journey of this.journeys.current().journeys) {
        const split = winnerSplit(journey);
        const key = split && splitWinnerKey(journey.id, journey.version, split.stepId);
        if (!split || !key || this.winners.has(key) || stored.some((row) => row.key === key)) continue;
        const tally = await this.runJourneys.splitTally(journey.id, journey.version, split.stepId);
        const decision = decideSplitWinner(split.variants, tally, split.rule);
        if (!decision) continue;
        const now = Date.now();
        const record: SplitWinnerRecord = {
          journeyId: journey.id,
          journeyVersion: journey.version,
          stepId: split.stepId,
          variant: decision.variant,
          decidedAt: new Date(now).toISOString(),
          effectiveAt: new Date(now + WINNER_EFFECTIVE_AFTER_MS).toISOString(),
          pValue: decision.pValue,
          confidence: split.rule.confidence,
          minimumPerVariant: split.rule.minimumPerVariant,
          tally,
        };
        await this.dataSource.query('INSERT INTO split_winners (key, record) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, JSON.stringify(record)]);
        const [standing] = (await this.dataSource.query('SELECT record FROM split_winners WHERE key = $1', [key])) as Array<{ record: SplitWinnerRecord }>;
        await this.publish(key, standing.record);
      }
      if (this.lastFailure) this.logger.log('split winners: deciding again');
      this.lastFailure = undefined;
    } catch (error) {
      const reason = describeError(error);
      if (reason !== this.lastFailure) this.logger.warn(`split winners: a round failed (tried again in ${DECIDE_EVERY_MS / 1000} s): ${reason}`);
      this.lastFailure = reason;
    }
  }

  private async publish(key: string, record: SplitWinnerRecord): Promise<void> {
    await this.producer.send(Topics.splitWinners.name, [{ key, value: JSON.stringify(record) }]);
    const variants = Object.entries(record.tally).map(([variant, counts]) => `${variant} ${counts.conversions}/${counts.recipients}`);
    this.logger.log(`split winners: ${key} goes to variant ${record.variant} from ${record.effectiveAt} (p = ${record.pValue.toPrecision(2)}; ${variants.join(', ')})`);
  }
}
