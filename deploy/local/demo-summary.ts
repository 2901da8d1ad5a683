import { DeliveryOutcomeRecord, JourneyOutcomeRecord, SegmentChangeRecord, Topics } from '@kairos/contracts';
import { ConsumedRecord, followTopic, KafkaClient, TopicFollower, withAdmin } from '@kairos/kafka';

interface VariantTally {
  entered: number;
  sent: number;
  opened: number;
  clicked: number;
  converted: number;
  revenue: number;
}

/**
 * What the demo's live summary counts, from the outcome topics an analyst would read: segment entries, journey
 * entries, mails sent, suppressed and capped, and per journey and variant sent, opened, clicked, converted and
 * revenue. Pure: fed records, asked for lines.
 */
export class DemoTally {
  segmentEntries = 0;
  segmentExits = 0;
  journeyEntries = 0;
  sent = 0;
  /** Sends not made for lack of consent: at the journey's step (triggers) or at send time (dispatch). */
  suppressed = 0;
  /** Sends the frequency cap skipped; `deferred` counts those put off (the cap with whenCapped: defer, quiet hours). */
  capped = 0;
  deferred = 0;
  failed = 0;
  readonly variants = new Map<string, VariantTally>();
  /** dispatchId -> journey/variant, so an open or click can be attributed even when its outcome lacks the origin. */
  private readonly origins = new Map<string, string>();

  addSegmentChange(change: SegmentChangeRecord): void {
    if (change.change === 'enter') this.segmentEntries += 1;
    else this.segmentExits += 1;
  }

  addJourneyOutcome(outcome: JourneyOutcomeRecord): void {
    const row = this.row(outcome.journeyId, outcome.variant);
    if (outcome.kind === 'entered') {
      this.journeyEntries += 1;
      row.entered += 1;
    } else if (outcome.kind === 'capped') this.capped += 1;
    else if (outcome.kind === 'deferred') this.deferred += 1;
    else if (outcome.kind === 'suppressed-by-consent') this.suppressed += 1;
    else if (outcome.kind === 'goal-reached') {
      row.converted += 1;
      const value = Number(outcome.detail?.['value']);
      if (Number.isFinite(value)) row.revenue += value;
    }
  }

  addDeliveryOutcome(outcome: DeliveryOutcomeRecord): void {
    const key = outcome.origin ? variantKey(outcome.origin.journeyId, outcome.origin.variant) : this.origins.get(outcome.dispatchId);
    if (outcome.origin && key) this.origins.set(outcome.dispatchId, key);
    const row = key ? this.rowByKey(key) : undefined;
    switch (outcome.kind) {
      case 'sent':
        this.sent += 1;
        if (row) row.sent += 1;
        break;
      case 'suppressed':
        this.suppressed += 1;
        break;
      case 'failed':
        this.failed += 1;
        break;
      case 'opened':
        if (row) row.opened += 1;
        break;
      case 'clicked':
        if (row) row.clicked += 1;
        break;
      default:
        break;
    }
  }

  /** The summary as terminal lines; `eventsPerSecond` comes from the accepted topic's growth. */
  lines(eventsPerSecond: number, eventsTotal: number): string[] {
    const lines = [
      `events ${eventsPerSecond.toFixed(0)}/s (${eventsTotal} in all) | segment entries ${this.segmentEntries}, exits ${this.segmentExits} | journey entries ${this.journeyEntries} | mails sent ${this.sent}, suppressed ${this.suppressed}, capped ${this.capped}, deferred ${this.deferred}${this.failed ? `, failed ${this.failed}` : ''}`,
    ];
    const rows = [...this.variants].filter(([, row]) => row.entered + row.sent + row.converted > 0).sort(([a], [b]) => a.localeCompare(b));
    if (rows.length === 0) return lines;
    lines.push(`  ${'journey / variant'.padEnd(36)} ${['entered', 'sent', 'opened', 'clicked', 'converted'].map((h) => h.padStart(10)).join('')}   revenue CHF`);
    for (const [key, row] of rows) {
      lines.push(`  ${key.padEnd(36)} ${[row.entered, row.sent, row.opened, row.clicked, row.converted].map((n) => String(n).padStart(10)).join('')}   ${row.revenue.toFixed(2).padStart(11)}`);
    }
    return lines;
  }

  private row(journeyId: string, variant: string | undefined): VariantTally {
    return this.rowByKey(variantKey(journeyId, variant));
  }

  private rowByKey(key: string): VariantTally {
    let row = this.variants.get(key);
    if (!row) {
      row = { entered: 0, sent: 0, opened: 0, clicked: 0, converted: 0, revenue: 0 };
      this.variants.set(key, row);
    }
    return row;
  }
}

function variantKey(journeyId: string, variant: string | undefined): string {
  return variant ? `${journeyId} / ${variant}` : journeyId;
}

function parse<T>(record: ConsumedRecord): T | undefined {
  if (!record.value) return undefined;
  try {
    return JSON.parse(record.value.toString()) as T;
  } catch {
    return undefined;
  }
}

/** Follows the outcome topics and prints the summary every `everyMs`. */
export async function startDemoSummary(kafka: KafkaClient, print: (lines: string[]) => void, everyMs = 5_000): Promise<{ stop(): Promise<void> }> {
  const tally = new DemoTally();
  const followers: TopicFollower[] = [];
  const follow = async <T>(topic: string, add: (value: T) => void) => {
    followers.push(
      await followTopic(kafka, {
        topic,
        onRecords: (records) => {
          for (const record of records) {
            const value = parse<T>(record);
            if (value) add(value);
          }
        },
      }),
    );
  };
  await follow<SegmentChangeRecord>(Topics.segmentChanges.name, (value) => tally.addSegmentChange(value));
  await follow<JourneyOutcomeRecord>(Topics.journeyOutcomes.name, (value) => tally.addJourneyOutcome(value));
  await follow<DeliveryOutcomeRecord>(Topics.deliveryOutcomes.name, (value) => tally.addDeliveryOutcome(value));

  const acceptedTotal = () =>
    withAdmin(kafka, async (admin) => (await admin.fetchTopicOffsets(Topics.accepted.name)).reduce((sum, partition) => sum + Number(partition.high), 0)).catch(() => undefined);
  let previous = { total: (await acceptedTotal()) ?? 0, at: Date.now() };
  const timer = setInterval(async () => {
    const total = await acceptedTotal();
    if (total === undefined) return;
    const now = Date.now();
    print(tally.lines(((total - previous.total) * 1000) / Math.max(1, now - previous.at), total));
    previous = { total, at: now };
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(followers.map((follower) => follower.stop()));
    },
  };
}
