import { Counter, metrics } from '@opentelemetry/api';
import { Topics } from '@kairos/contracts';
import { DefinitionSet, formatDefinitionError, RecordChange } from '@kairos/definitions';
import { ConsumedRecord, followTopic, KafkaClient, TopicFollower } from '@kairos/kafka';
import { decodeDefinitionRecord, releaseOf } from './definition-records';

export interface DefinitionsFollowerOptions {
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  topic?: string;
}

export type DefinitionsListener = (set: DefinitionSet, applied: readonly RecordChange[]) => void;

interface PendingRelease {
  id: string;
  size: number;
  records: ConsumedRecord[];
}

let refusedCounter: Counter | undefined;
/** Created on first use: a meter taken before the telemetry library registers its provider would stay a no-op. */
function refused(): Counter {
  refusedCounter ??= metrics.getMeter('kairos.definitions').createCounter('kairos_definitions_refused_records', { description: 'Definition records refused (invalid, or inconsistent with the set in force)' });
  return refusedCounter;
}

/**
 * The definitions in force for one process. start() resolves once the topic has been read to its end, so a service
 * awaits it before it turns ready; afterwards published changes arrive within the follower's fetch wait (200 ms).
 *
 * A publish is one release: its records carry the release id and size and are applied together once all have
 * arrived, after the whole resulting set validated — a journey and the template it names stand or fall together.
 * A release that does not validate is refused with a logged reason and a metric, and the set in force stays.
 */
export class DefinitionsFollower {
  private set = DefinitionSet.empty();
  private pending: PendingRelease | undefined;
  private readonly listeners: DefinitionsListener[] = [];
  private follower: TopicFollower | undefined;
  private readonly log: NonNullable<DefinitionsFollowerOptions['log']>;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly options: DefinitionsFollowerOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    const topic = this.options.topic ?? Topics.definitions.name;
    this.follower = await followTopic(this.kafka, { topic, log: this.log, onRecords: (records) => this.receive(records) });
    await this.follower.caughtUp;
    // A release cut short (compaction removed some of its records, or its writer died) is applied as far as it
    // validates rather than waited for forever.
    this.flushPending();
    this.log('info', `definitions: ${this.set.size} in force from ${topic}${this.set.errors.length > 0 ? `, ${this.set.errors.length} problems` : ''}`);
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }

  /** Why changes are not being followed right now; undefined while they are. */
  notFollowing(): string | undefined {
    return this.follower?.notRunning();
  }

  /** Why this process can no longer follow the definitions: for the liveness probe. */
  wedged(): string | undefined {
    return this.follower?.wedged();
  }

  /** The set in force now. */
  current(): DefinitionSet {
    return this.set;
  }

  /** Told after every applied release. */
  onChange(listener: DefinitionsListener): void {
    this.listeners.push(listener);
  }

  private receive(records: readonly ConsumedRecord[]): void {
    for (const record of records) {
      const release = releaseOf(record);
      if (this.pending && this.pending.id !== release.id) this.flushPending();
      this.pending ??= { id: release.id, size: release.size, records: [] };
      this.pending.records.push(record);
      if (this.pending.records.length >= this.pending.size) this.flushPending();
    }
  }

  private flushPending(): void {
    const release = this.pending;
    this.pending = undefined;
    if (!release) return;
    const decoded = release.records.map(decodeDefinitionRecord);
    const undecodable = decoded.flatMap((entry) => (entry.ok ? [] : [`${entry.key}: ${entry.reason}`]));
    if (undecodable.length > 0) return this.refuse(release, undecodable);
    const changes = decoded.flatMap((entry) => (entry.ok ? [entry.change] : []));
    const { next, newErrors } = this.set.apply(changes);
    if (newErrors.length > 0) return this.refuse(release, newErrors.map(formatDefinitionError));
    this.set = next;
    this.log('info', `definitions: applied release ${release.id}: ${changes.map((change) => (change.record ? `${change.key} v${change.record.version}${change.record.status === 'paused' ? ' (paused)' : ''}` : `${change.key} removed`)).join(', ')}`);
    for (const listener of this.listeners) listener(this.set, changes);
  }

  private refuse(release: PendingRelease, reasons: string[]): void {
    refused().add(release.records.length);
    const keys = release.records.map((record) => record.key?.toString('utf8')).join(', ');
    this.log('warn', `definitions: refused release ${release.id} (${keys}); the versions in force stay: ${reasons.join('; ')}`);
  }
}
