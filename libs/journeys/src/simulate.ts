import { ProfileUpdateRecord, ResolvedEvent } from '@kairos/contracts';
import { Memberships, ProfileEvent, ProfileState, applyEvent, emptyProfileState, evaluateSegments } from '@kairos/segmentation';
import { JourneyCatalogue } from './journey-catalogue';
import { JourneysState, SplitSample } from './journeys-state';
import { decideSplitWinner, SplitDecision, SplitTally, winnerSplit } from './split-winner';
import { Effect, stepJourneys, traitUpdateEvent } from './step-journeys';

/** An event of a simulation or backtest file: a Segment event with its profile (profileId, else userId, else anonymousId). */
export type SimulationEvent = ProfileEvent & { profileId?: string; userId?: string; anonymousId?: string };

export interface TimelineEntry {
  at: number;
  profileId: string;
  /** event: an input; segment: a segment change; the rest are the stepping function's effects. */
  kind: 'event' | 'segment' | Exclude<Effect['kind'], 'set-timer' | 'cancel-timer'>;
  journeyId?: string;
  text: string;
  effect?: Effect;
}

export interface BacktestReport {
  profiles: number;
  events: number;
  from?: string;
  to?: string;
  journeys: Record<
    string,
    {
      entries: number;
      sends: Record<string, number>;
      webhooks: number;
      capped: number;
      deferred: number;
      suppressedByConsent: number;
      goals: number;
      goalValue: number;
      exits: Record<string, number>;
      variants: Record<string, number>;
      /**
       * A split with an automatic winner: its samples (instances whose goal window closed by the end of the run) and
       * the one test the service would make on them — undefined while a variant lacks its sample.
       */
      splitTest?: { stepId: string; tally: SplitTally; decision?: SplitDecision };
    }
  >;
}

export interface SimulationResult {
  timeline: TimelineEntry[];
  report: BacktestReport;
}

export interface SimulationOptions {
  /** Keep the virtual clock running after the last event until this moment (timers, waits); default: 30 days on. */
  until?: number;
  /** Called with each timeline entry as it happens (a long backtest shows progress). */
  onEntry?: (entry: TimelineEntry) => void;
}

/** A bad line of an events file: which one and why. */
export class SimulationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationInputError';
  }
}

interface ProfileRun {
  profile: ProfileState;
  memberships: Memberships;
  segmentsDue?: number;
  journeys?: JourneysState;
  journeysDue?: number;
}

/** A binary min-heap of (due, profileId, kind) with lazy deletion: stale entries are skipped when popped. */
class TimerQueue {
  private heap: Array<{ due: number; profileId: string; kind: 'segments' | 'journeys' }> = [];

  push(due: number, profileId: string, kind: 'segments' | 'journeys'): void {
    this.heap.push({ due, profileId, kind });
    let index = this.heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.before(parent, index)) break;
      [this.heap[parent], this.heap[index]] = [this.heap[index], this.heap[parent]];
      index = parent;
    }
  }

  peek(): { due: number; profileId: string; kind: 'segments' | 'journeys' } | undefined {
    return this.heap[0];
  }

  pop(): void {
    const last = this.heap.pop();
    if (last === undefined || this.heap.length === 0) return;
    this.heap[0] = last;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.heap.length && !this.before(smallest, left)) smallest = left;
      if (right < this.heap.length && !this.before(smallest, right)) smallest = right;
      if (smallest === index) return;
      [this.heap[smallest], this.heap[index]] = [this.heap[index], this.heap[smallest]];
      index = smallest;
    }
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    return x.due < y.due || (x.due === y.due && (x.profileId < y.profileId || (x.profileId === y.profileId && x.kind <= y.kind)));
  }
}

export function profileIdOf(event: SimulationEvent): string | undefined {
  return event.profileId ?? event.userId ?? event.anonymousId;
}

/** Reads a JSON array or newline-delimited JSON of events; every bad one is named by its position. */
export function parseEventsFile(text: string): SimulationEvent[] {
  const trimmed = text.trim();
  let items: unknown[];
  if (trimmed.startsWith('[')) {
    try {
      items = JSON.parse(trimmed) as unknown[];
    } catch (error) {
      throw new SimulationInputError(`not a JSON array of events: ${(error as Error).message}`);
    }
  } else {
    items = trimmed === '' ? [] : trimmed.split('\n').map((line, index) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new SimulationInputError(`line ${index + 1}: not JSON`);
      }
    });
  }
  return items.map((item, index) => {
    const where = trimmed.startsWith('[') ? `event ${index + 1}` : `line ${index + 1}`;
    if (typeof item !== 'object' || item === null) throw new SimulationInputError(`${where}: not an object`);
    const event = item as SimulationEvent;
    if (typeof event.type !== 'string') throw new SimulationInputError(`${where}: no type (track, identify, page, …)`);
    if (typeof event.timestamp !== 'string' || Number.isNaN(Date.parse(event.timestamp))) throw new SimulationInputError(`${where}: no valid timestamp`);
    if (profileIdOf(event) === undefined) throw new SimulationInputError(`${where}: no profileId, userId or anonymousId`);
    if (event.type === 'track' && typeof event.event !== 'string') throw new SimulationInputError(`${where}: a track event needs an event name`);
    return { ...event, messageId: typeof event.messageId === 'string' ? event.messageId : `sim-${index + 1}` };
  });
}

/**
 * Runs journeys over events on a virtual clock, with segmentation's pure core standing in for the segmentation
 * stage: each event (in timestamp order) and each due timer becomes the ProfileUpdateRecord segmentation would emit,
 * and goes through the same stepping function the triggers service runs. No Kafka, no database, no e-mail.
 */
export function simulate(events: readonly SimulationEvent[], catalogue: JourneyCatalogue, options: SimulationOptions = {}): SimulationResult {
  const segments = catalogue.segments;
  const sorted = events.map((event, index) => ({ event, index, at: Date.parse(event.timestamp) })).sort((a, b) => a.at - b.at || a.index - b.index);
  const runs = new Map<string, ProfileRun>();
  const timers = new TimerQueue();
  const timeline: TimelineEntry[] = [];
  const report: BacktestReport = { profiles: 0, events: events.length, journeys: {}, from: sorted[0] && new Date(sorted[0].at).toISOString(), to: sorted.length > 0 ? new Date(sorted[sorted.length - 1].at).toISOString() : undefined };
  const record = (entry: TimelineEntry) => {
    timeline.push(entry);
    options.onEntry?.(entry);
    if (entry.effect) tally(report, entry.effect);
  };
  const runOf = (profileId: string): ProfileRun => {
    let run = runs.get(profileId);
    if (!run) {
      run = { profile: emptyProfileState(profileId), memberships: {} };
      runs.set(profileId, run);
    }
    return run;
  };

  const decide = (profileId: string, run: ProfileRun, input: Parameters<typeof stepJourneys>[1], at: number) => {
    const decision = stepJourneys(run.journeys, input, at, catalogue);
    run.journeys = decision.state;
    run.journeysDue = undefined;
    const feedback: ProfileEvent[] = [];
    for (const effect of decision.effects) {
      if (effect.kind === 'set-timer') {
        run.journeysDue = effect.dueAt;
        timers.push(effect.dueAt, profileId, 'journeys');
      } else if (effect.kind === 'split-sample') {
        countSample(report, effect.sample);
      } else if (effect.kind !== 'cancel-timer') {
        record({ at: effectTime(effect, at), profileId, kind: effect.kind, journeyId: journeyOf(effect), text: describeEffect(effect), effect });
        // As the service writes it back (through ingestion, identity and segmentation), after this decision.
        if (effect.kind === 'update-profile') feedback.push(traitUpdateEvent(effect.update) as ProfileEvent);
      }
    }
    for (const event of feedback) applyInput(profileId, event, at);
  };

  const segmentsAt = (profileId: string, run: ProfileRun, at: number, input: ProfileUpdateRecord['input'], updateId: string, always: boolean) => {
    const cause = input.kind === 'event' ? { kind: 'event' as const, messageId: input.event.messageId } : { kind: 'timer' as const };
    const evaluation = evaluateSegments(run.memberships, run.profile, segments, catalogue.model, at, cause);
    run.memberships = evaluation.memberships;
    run.segmentsDue = evaluation.nextChangeAt === undefined ? undefined : Math.max(evaluation.nextChangeAt, at + 1);
    if (run.segmentsDue !== undefined) timers.push(run.segmentsDue, profileId, 'segments');
    const changes = evaluation.changes.map((change) => ({
      changeId: `${profileId}/${change.segmentId}/${change.version}/${change.change}/${change.at}`,
      profileId,
      segmentId: change.segmentId,
      version: change.version,
      change: change.change,
      at: new Date(change.at).toISOString(),
      cause: change.cause,
    }));
    for (const change of changes) record({ at, profileId, kind: 'segment', text: `${change.change === 'enter' ? 'entered' : 'left'} segment ${change.segmentId}` });
    if (!always && changes.length === 0) return;
    const update: ProfileUpdateRecord = { updateId, profileId, at: new Date(at).toISOString(), input, state: run.profile as unknown as ProfileUpdateRecord['state'], segments: run.memberships, changes };
    decide(profileId, run, { kind: 'update', update }, at);
  };

  function applyInput(profileId: string, event: ProfileEvent, at: number): void {
    const run = runOf(profileId);
    const applied = applyEvent(run.profile, event, catalogue.model, at);
    if (applied.duplicate) {
      record({ at, profileId, kind: 'event', text: `${describeEvent(event)} (duplicate messageId ${event.messageId}: ignored)` });
      return;
    }
    run.profile = applied.state;
    record({ at, profileId, kind: 'event', text: describeEvent(event) });
    const resolved = { ...event, profileId } as unknown as ResolvedEvent;
    segmentsAt(profileId, run, at, { kind: 'event', event: resolved }, `${profileId}/${event.messageId}`, true);
  }

  const fireUntil = (limit: number) => {
    for (let head = timers.peek(); head !== undefined && head.due <= limit; head = timers.peek()) {
      timers.pop();
      const run = runs.get(head.profileId);
      if (!run) continue;
      if (head.kind === 'segments' && run.segmentsDue === head.due) {
        run.segmentsDue = undefined;
        segmentsAt(head.profileId, run, head.due, { kind: 'timer' }, `${head.profileId}/timer/${head.due}`, false);
      } else if (head.kind === 'journeys' && run.journeysDue === head.due) {
        decide(head.profileId, run, { kind: 'timer' }, head.due);
      }
    }
  };

  for (const { event, at } of sorted) {
    fireUntil(at - 1);
    const profileId = profileIdOf(event) ?? '';
    applyInput(profileId, event, at);
  }
  const last = sorted.length > 0 ? sorted[sorted.length - 1].at : 0;
  fireUntil(options.until ?? last + 30 * 86_400_000);
  report.profiles = runs.size;
  for (const [journeyId, entry] of Object.entries(report.journeys)) {
    const split = winnerSplit(catalogue.current(journeyId));
    if (entry.splitTest && split) entry.splitTest.decision = decideSplitWinner(split.variants, entry.splitTest.tally, split.rule);
  }
  return { timeline, report };
}

function countSample(report: BacktestReport, sample: SplitSample): void {
  const entry = journeyEntry(report, sample.journeyId);
  entry.splitTest ??= { stepId: sample.stepId, tally: {} };
  const counts = (entry.splitTest.tally[sample.variant] ??= { recipients: 0, conversions: 0 });
  counts.recipients++;
  if (sample.converted) counts.conversions++;
}

function journeyEntry(report: BacktestReport, journeyId: string): BacktestReport['journeys'][string] {
  return (report.journeys[journeyId] ??= { entries: 0, sends: {}, webhooks: 0, capped: 0, deferred: 0, suppressedByConsent: 0, goals: 0, goalValue: 0, exits: {}, variants: {} });
}

function effectTime(effect: Effect, at: number): number {
  if (effect.kind === 'outcome') return Date.parse(effect.outcome.at);
  if (effect.kind === 'dispatch') return Date.parse(effect.request.requestedAt);
  if (effect.kind === 'note') return effect.at;
  return at;
}

function journeyOf(effect: Effect): string | undefined {
  if (effect.kind === 'outcome') return effect.outcome.journeyId;
  if (effect.kind === 'dispatch') return effect.request.origin?.journeyId;
  if (effect.kind === 'note') return effect.journeyId;
  return undefined;
}

function describeEvent(event: ProfileEvent): string {
  if (event.type === 'track') return `track "${event.event}"${event.properties && Object.keys(event.properties).length > 0 ? ` ${JSON.stringify(event.properties)}` : ''}`;
  if (event.type === 'identify') return `identify ${JSON.stringify(event.traits ?? {})}`;
  return event.type;
}

export function describeEffect(effect: Effect): string {
  switch (effect.kind) {
    case 'dispatch': {
      const request = effect.request;
      if (request.channel === 'webhook') return `WEBHOOK POST ${request.url} (${request.dispatchId})`;
      const products = request.context.event?.properties?.products;
      return `SEND ${request.templateId} (${request.purpose}) because ${request.reason.trigger}; consent ${request.reason.consent?.status ?? 'n/a'}${Array.isArray(products) ? `; ${products.length} product(s)` : ''}${request.origin?.variant ? `; variant ${request.origin.variant}` : ''} [${request.dispatchId}]`;
    }
    case 'outcome': {
      const outcome = effect.outcome;
      const detail = Object.entries(outcome.detail ?? {})
        .filter(([key]) => key !== 'proof')
        .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
        .join(' ');
      return `${outcome.kind}${outcome.stepId ? ` at step ${outcome.stepId}` : ''}${outcome.variant ? ` (variant ${outcome.variant})` : ''}${detail ? `: ${detail}` : ''}`;
    }
    case 'update-profile':
      return `set traits ${JSON.stringify(effect.update.traits)}`;
    case 'note':
      return effect.text;
    default:
      return effect.kind;
  }
}

function tally(report: BacktestReport, effect: Effect): void {
  const journeyId = journeyOf(effect);
  if (journeyId === undefined) return;
  const entry = journeyEntry(report, journeyId);
  if (effect.kind === 'dispatch') {
    if (effect.request.channel === 'email') entry.sends[effect.request.templateId] = (entry.sends[effect.request.templateId] ?? 0) + 1;
    else entry.webhooks++;
    return;
  }
  if (effect.kind !== 'outcome') return;
  const outcome = effect.outcome;
  const detail = outcome.detail ?? {};
  switch (outcome.kind) {
    case 'entered':
      entry.entries++;
      return;
    case 'capped':
      entry.capped++;
      return;
    case 'deferred':
      entry.deferred++;
      return;
    case 'suppressed-by-consent':
      entry.suppressedByConsent++;
      return;
    case 'goal-reached':
      entry.goals++;
      entry.goalValue += typeof detail.value === 'number' ? detail.value : 0;
      return;
    case 'exited': {
      const reason = String(detail.reason ?? 'unknown');
      entry.exits[reason] = (entry.exits[reason] ?? 0) + 1;
      return;
    }
    case 'step-executed':
      if (typeof detail.split === 'string') entry.variants[detail.split] = (entry.variants[detail.split] ?? 0) + 1;
      return;
    default:
      return;
  }
}
