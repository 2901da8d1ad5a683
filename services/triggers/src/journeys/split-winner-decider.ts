import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SplitWinnerRecord, splitWinnerKey, Topics } from '@kairos/contracts';
import { describeError, RecordProducer } from '@kairos/kafka';
import { decideSplitWinner, winnerSplit } from '@kairos/journeys';
import { DataSource } from 'typeorm';
import { JourneysInForce } from './journeys-in-force';
import { RunJourneysUseCase } from './run-journeys.use-case';
import { SplitWinners } from './split-winners';
import { DECIDE_SPLITS } from './triggers.tokens';

/** How often the tallies of undecided splits are added up. */
const DECIDE_EVERY_MS = 5_000;
/**
 * A winner applies to entries whose event time is at least this long after the decision. Intake accepts timestamps up
 * to 24 h ahead of their arrival (libs/intake DEFAULT_LIMITS.maxFutureMs), so no input an instance read before it knew
 * of the decision can carry a time this late (5 minutes for the followers to read the topic): whether an entry gets
 * the winner never depends on when an instance heard of it, and a replay, which knows the decision from the start,
 * picks as the live run did.
 */
const WINNER_EFFECTIVE_AFTER_MS = 24 * 60 * 60 * 1000 + 5 * 60 * 1000;

/**
 * Tests the splits that have a winner rule, once each: every few seconds it adds up the partitions' committed tallies
 * of each undecided split of the journeys in force, and when every variant has its sample it makes the one test
 * (libs/journeys `decideSplitWinner`). The decision — a winner, or none — is stored first (the first stored for a
 * split stands, whichever instance made it) and then published as stored; one stored but not seen on the topic (a
 * crash in between) is published again in the next round. Off (TRIGGERS_DECIDE_SPLITS=false) in a replay, which reads
 * the live run's decisions instead of making its own.
 */
@Injectable()
export class SplitWinnerDecider implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('triggers');
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private lastFailure: string | undefined;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(RecordProducer) private readonly producer: RecordProducer,
    @Inject(SplitWinners) private readonly winners: SplitWinners,
    @Inject(JourneysInForce) private readonly journeys: JourneysInForce,
    @Inject(RunJourneysUseCase) private readonly runJourneys: RunJourneysUseCase,
    @Inject(DECIDE_SPLITS) private readonly enabled: boolean,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    // A round still running (a database or broker that does not answer) is not joined by another.
    this.timer = setInterval(() => (this.round ??= this.decideAll().finally(() => (this.round = undefined))), DECIDE_EVERY_MS);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round;
  }

  /** One round; a failure (the database or broker away) is logged once and the next round tries again. */
  async decideAll(): Promise<void> {
    try {
      const stored: Array<{ key: string; record: SplitWinnerRecord }> = await this.dataSource.query('SELECT key, record FROM split_winners');
      for (const row of stored) if (!this.stopped && !this.winners.has(row.key)) await this.publish(row.key, row.record);
      for (const journey of this.journeys.current().journeys) {
        const split = winnerSplit(journey);
        if (this.stopped || !split) continue;
        const key = splitWinnerKey(journey.id, journey.version, split.stepId);
        if (this.winners.has(key) || stored.some((row) => row.key === key)) continue;
        const tally = await this.runJourneys.splitTally(journey.id, journey.version, split.stepId);
        const decision = decideSplitWinner(split.variants, tally, split.rule);
        if (!decision) continue;
        const now = Date.now();
        const record: SplitWinnerRecord = {
          journeyId: journey.id,
          journeyVersion: journey.version,
          stepId: split.stepId,
          ...(decision.winner === undefined ? { outcome: 'inconclusive' } : { outcome: 'winner', variant: decision.winner }),
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
      if (reason !== this.lastFailure) this.logger.warn(`split winners: a round failed (tried again every ${DECIDE_EVERY_MS / 1000} s): ${reason}`);
      this.lastFailure = reason;
    }
  }

  private async publish(key: string, record: SplitWinnerRecord): Promise<void> {
    await this.producer.send(Topics.splitWinners.name, [{ key, value: JSON.stringify(record) }]);
    const tally = Object.entries(record.tally).map(([variant, counts]) => `${variant} ${counts.conversions}/${counts.recipients}`);
    const verdict = record.outcome === 'winner' ? `goes to variant ${record.variant} from ${record.effectiveAt}` : 'has no winner; its weights stay';
    this.logger.log(`split winners: ${key} ${verdict} (p = ${record.pValue.toPrecision(2)}; converted/finished: ${tally.join(', ')})`);
  }
}
