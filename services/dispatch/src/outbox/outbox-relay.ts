import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DeliveryOutcomeRecord, Topics } from '@kairos/contracts';
import { describeError, kafkaRecordFault, RecordProducer } from '@kairos/kafka';
import { prepared, withPooledClient } from '@kairos/persistence';
import { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { dispatchMetrics } from '../dispatch-metrics';
import { sleep, Wakeup } from '../wakeup';

const PAGE = 500;

/** Counts the outcomes of a page once its rows are deleted (a page published again after a crash was not counted before). */
function countOutcomes(rows: Iterable<{ topic: string; value: string }>): void {
  const { outcomes } = dispatchMetrics();
  for (const row of rows) {
    if (row.topic !== Topics.deliveryOutcomes.name) continue;
    const { kind, channel } = JSON.parse(row.value) as Pick<DeliveryOutcomeRecord, 'kind' | 'channel'>;
    outcomes.add(1, { kind, channel });
  }
}

/**
 * Publishes what state changes wrote to the outbox table — outcomes, engagement events, dead letters — and deletes
 * it once the broker acknowledged. A crash between the acknowledgement and the commit of the delete publishes those
 * records again (with their deterministic ids); nothing written to the outbox is lost. `kick()` after a commit makes it
 * run 20 ms later (the commits just behind join the page); otherwise it looks about every 270 ms (for rows other
 * instances, or earlier runs, left).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('dispatch-outbox');
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  private lastWarning = 0;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(RecordProducer) private readonly producer: RecordProducer,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    // DeliverUseCase drains once more after the last deliveries; what a failed drain leaves is published by the next
    // start (or another instance).
  }

  kick(): void {
    this.wakeup.kick();
  }

  /** Publishes until the outbox is empty; resolves when it is (for tests and the graceful stop). */
  async drain(): Promise<void> {
    while ((await this.publishPage()) === PAGE);
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakeup.begin();
      try {
        if ((await this.publishPage()) === PAGE) continue;
      } catch (error) {
        if (Date.now() - this.lastWarning > 10_000) {
          this.lastWarning = Date.now();
          this.logger.warn(`outbox not published yet, retrying: ${(error as Error).message}`);
        }
        await sleep(1_000);
        continue;
      }
      if (!this.wakeup.pending) await this.wakeup.idle(250);
      // The records of the commits just behind the one that woke the relay join its page: one produce request and
      // three statements for them all rather than for each.
      if (this.running) await sleep(GATHER_MS);
    }
    await this.drain().catch(() => undefined);
  }

  /**
   * One page, taken out of the table (SKIP LOCKED: another instance takes the next page) and published in order inside
   * the same transaction: the delete commits only once the broker acknowledged, and a failed publish rolls it back.
   * When the broker refuses a record for its own sake (MESSAGE_TOO_LARGE; never for an outage or an error it does not
   * name), the page's rows not acknowledged yet are published row by row and each row it refuses is set aside in
   * `outbox_refused`, so one such row cannot hold every later outcome back. (Of the refused request, partitions other
   * brokers acknowledged are sent again: ids are deterministic.)
   */
  private async publishPage(): Promise<number> {
    return withPooledClient(this.dataSource, async (client) => {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<OutboxRow>(
          prepared('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, topic, key, value, headers, created_at', [PAGE]),
        );
        // RETURNING keeps no order; the ids are bigints as text, so the shorter is the smaller.
        rows.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const published = new Set<OutboxRow>();
        const refused: OutboxRow[] = [];
        try {
          await this.publish(rows, published);
        } catch (error) {
          if (!refusedForItself(error)) throw error;
          refused.push(...(await this.publishOneByOne(client, rows.filter((row) => !published.has(row)), published)));
        }
        await client.query('COMMIT');
        countOutcomes(published);
        // Counted once set aside for good: a rollback puts the rows back, to be refused (and counted) again.
        for (const row of refused) dispatchMetrics().outboxRefused.add(1, { topic: row.topic });
        return rows.length;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * The rows in one request per topic (the producer splits what exceeds a request), in order within each topic; adds
   * to `published` the rows the broker acknowledged, also when a later request fails.
   */
  private async publish(rows: readonly OutboxRow[], published: Set<OutboxRow>): Promise<void> {
    const byTopic = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const list = byTopic.get(row.topic) ?? [];
      list.push(row);
      byTopic.set(row.topic, list);
    }
    const results = await Promise.allSettled(
      [...byTopic].map(async ([topic, list]) => {
        const progress = { acknowledged: 0 };
        try {
          await this.producer.send(topic, list.map((row) => ({ key: row.key, value: row.value, ...(row.headers ? { headers: row.headers } : {}) })), { progress });
        } finally {
          for (const row of list.slice(0, progress.acknowledged)) published.add(row);
        }
      }),
    );
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Publishes each row alone; a row the broker refuses for its own sake moves to `outbox_refused` with the answer
   * (returned, to be counted after the commit). Any other failure throws (the transaction rolls back: the rows
   * published so far go out again, with their ids).
   */
  private async publishOneByOne(client: PoolClient, rows: readonly OutboxRow[], published: Set<OutboxRow>): Promise<OutboxRow[]> {
    const refused: OutboxRow[] = [];
    for (const row of rows) {
      try {
        await this.publish([row], published);
      } catch (error) {
        const fault = refusedForItself(error);
        if (!fault) throw error;
        const reason = `${fault}: ${describeError(error)}`;
        await client.query(
          prepared('INSERT INTO outbox_refused (id, topic, key, value, headers, created_at, error) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            row.id,
            row.topic,
            row.key,
            row.value,
            row.headers ? JSON.stringify(row.headers) : null,
            row.created_at,
            reason,
          ]),
        );
        refused.push(row);
        this.logger.error(`outbox row ${row.id} for ${row.topic} (${Buffer.byteLength(row.value)} bytes) refused by the broker, set aside in outbox_refused: ${reason}`);
      }
    }
    return refused;
  }
}

/**
 * The broker's refusals a row can earn for itself, whatever the state of the cluster. Not INVALID_TIMESTAMP: outbox
 * records carry the host's clock, so that refusal means clock skew, which every row shares.
 */
const ROW_FAULTS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

function refusedForItself(error: unknown): string | undefined {
  const fault = kafkaRecordFault(error);
  return fault && ROW_FAULTS.has(fault) ? fault : undefined;
}

interface OutboxRow {
  id: string;
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string> | null;
  created_at: Date;
}

/** How long the relay lets records gather after a commit woke it. */
const GATHER_MS = 20;
