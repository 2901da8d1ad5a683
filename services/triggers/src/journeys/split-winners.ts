import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SplitWinnerRecord, splitWinnerKey, Topics } from '@kairos/contracts';
import { ConsumedRecord, followTopic, KafkaClient, TopicFollower } from '@kairos/kafka';
import { SplitWinner } from '@kairos/journeys';
import { HealthServer, KAFKA } from '@kairos/service-runtime';

/**
 * The decided splits, as every triggers instance holds them: the whole compacted topic, read to its end before the
 * ordered path starts (so a restart never picks by weights what should have gone to the winner), then followed.
 */
@Injectable()
export class SplitWinners implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('triggers');
  private readonly decided = new Map<string, SplitWinnerRecord>();
  private follower: TopicFollower | undefined;

  constructor(
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(HealthServer) private readonly health: HealthServer,
  ) {}

  async onModuleInit(): Promise<void> {
    const follower = await followTopic(this.kafka, {
      topic: Topics.splitWinners.name,
      log: (level, message) => (level === 'info' ? this.logger.log(message) : this.logger[level](message)),
      onRecords: (records) => records.forEach((record) => this.receive(record)),
    });
    this.follower = follower;
    this.health.register('split-winners', () => follower.notRunning() ?? true);
    this.health.registerLiveness('split-winners', () => follower.wedged() ?? true);
    await follower.caughtUp;
    if (this.decided.size > 0) this.logger.log(`split winners: ${this.decided.size} decided splits from ${Topics.splitWinners.name}`);
  }

  async onModuleDestroy(): Promise<void> {
    await this.follower?.stop();
  }

  private receive(record: ConsumedRecord): void {
    const key = record.key?.toString('utf8');
    const value = parseWinner(record.value);
    if (!key || !value) {
      this.logger.warn(`${Topics.splitWinners.name}: the record at offset ${record.offset} is not a split winner; ignored`);
      return;
    }
    // The latest, as compaction keeps: one consumer group's records for a split are all the same (the stored decision).
    this.decided.set(key, value);
  }

  winner(journeyId: string, version: number, stepId: string): SplitWinner | undefined {
    const record = this.decided.get(splitWinnerKey(journeyId, version, stepId));
    return record?.variant === undefined ? undefined : { variant: record.variant, effectiveAt: Date.parse(record.effectiveAt) };
  }

  has(key: string): boolean {
    return this.decided.has(key);
  }
}

function parseWinner(value: Buffer | null): SplitWinnerRecord | undefined {
  try {
    const parsed = value === null ? undefined : (JSON.parse(value.toString('utf8')) as Partial<SplitWinnerRecord> | null);
    const known = parsed?.outcome === 'inconclusive' || (parsed?.outcome === 'winner' && typeof parsed.variant === 'string');
    return known && !Number.isNaN(Date.parse(parsed.effectiveAt ?? '')) ? (parsed as SplitWinnerRecord) : undefined;
  } catch {
    return undefined;
  }
}

