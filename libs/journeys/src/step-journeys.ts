import { createHash } from 'node:crypto';
import { DispatchRequestRecord, JourneyOutcomeRecord, ProfileUpdateRecord } from '@kairos/contracts';
import { ProfileState, Rule, Verdict, evaluateRule, matchesFilters, seriesKey, toTime, valueAt } from '@kairos/segmentation';
import { CompiledJourney, END, StepNode } from './compiled-journey';
import { checkCaps, decideConsent, pruneHistory, quietHoursUntil } from './guard-rails';
import { JourneyCatalogue } from './journey-catalogue';
import { InstanceState, JourneysState, PendingAbsence, SplitSample, TriggerEvent, emptyJourneysState, nextDueAt } from './journeys-state';
import { calendarDate, knownTimeZone, nextLocalTime, nextOccurrence, toLocal } from './local-time';
import { winnerSplit } from './split-winner';

/**
 * What the stepping function is given: one record of the profile's ordered stream, its timer coming due, or a pass
 * over stored profiles after the journeys changed (`schedule`): what the profile's state alone starts — an inactivity
 * deadline, a recurring date — is scheduled under the journeys in force, so a journey published today reaches a
 * customer who sends nothing more (a win-back is for exactly those).
 */
export type JourneyInput = { kind: 'update'; update: ProfileUpdateRecord } | { kind: 'timer' } | { kind: 'schedule' };

/**
 * What a schedule pass depends on: the inactivity and recurring journeys in force, by version. A pass is due for a
 * partition when this differs from the one it last completed ('' when there are none).
 */
export function scheduleFingerprint(catalogue: JourneyCatalogue): string {
  return catalogue.journeys
    .filter((journey) => journey.trigger.kind === 'inactivity' || journey.trigger.kind === 'recurring')
    .map((journey) => `${journey.id}@${journey.version}`)
    .join(',');
}

/** A trait to set on the profile (the updateProfile step); the service feeds it back as an identify event. */
export interface ProfileTraitUpdate {
  profileId: string;
  /** Deterministic (instance, step), so the event is de-duplicated downstream. */
  messageId: string;
  at: string;
  traits: Record<string, unknown>;
}

/**
 * The identify event that sets the traits of an updateProfile step. It goes onto the raw topic, through ingestion
 * and identity like any event (so a replay of the accepted log sees it too), addressed to the profile by its id
 * (context.kairos): identity hands it to that profile, or to the one it was merged into, and links nothing.
 */
export function traitUpdateEvent(update: ProfileTraitUpdate): Record<string, unknown> {
  return {
    type: 'identify',
    messageId: update.messageId,
    timestamp: update.at,
    traits: update.traits,
    context: { kairos: { profileId: update.profileId }, library: { name: 'kairos-triggers', version: '1' } },
  };
}

export type Effect =
  | { kind: 'dispatch'; request: DispatchRequestRecord }
  | { kind: 'outcome'; outcome: JourneyOutcomeRecord }
  | { kind: 'update-profile'; update: ProfileTraitUpdate }
  /** The profile's one timer: set to the next due moment, or cancelled when nothing is pending. */
  | { kind: 'set-timer'; dueAt: number }
  | { kind: 'cancel-timer' }
  /** A finished instance of a winner split whose goal window has closed: one sample of the split's test. */
  | { kind: 'split-sample'; sample: SplitSample }
  /** Why nothing happened (an absence resolved, a paused journey, a condition not met): for the simulator's account. */
  | { kind: 'note'; at: number; journeyId: string; text: string };

export interface Decision {
  state: JourneysState;
  effects: Effect[];
}

const RECENT_UPDATES = 64;
/** Instances that ended for these reasons are no sample of their variant: the person, or the journey, went away. */
const NO_SAMPLE = new Set(['profile erased', 'journey removed', 'journey version unavailable', 'goal reached by a later entry']);
const OBSERVED_EVENTS = 16;

export function stableId(prefix: string, ...parts: Array<string | number | undefined>): string {
  return `${prefix}-${createHash('sha256').update(parts.map((part) => String(part ?? '')).join('\u0000')).digest('hex').slice(0, 24)}`;
}

const iso = (at: number): string => new Date(at).toISOString();

/**
 * Whether an event's key property (a cartId) matches the key an instance or absence was started with. One rule for
 * absences, waits for an event and goals: compared as text (42 and "42" are the same cart), and a key missing on
 * either side matches — an order that names no cart may be the one awaited, and not mailing after an order is the
 * safer mistake.
 */
export function keyMatches(expected: unknown, actual: unknown): boolean {
  return expected === undefined || actual === undefined || String(actual) === String(expected);
}

/**
 * The pure core of triggers: a profile's journeys state, one input and the time it happens at -> the new state and
 * the effects (dispatch requests, journey outcomes, profile updates, the timer). Deterministic: the same inputs in
 * the same order make the same decisions and ids, so a replay into an empty store decides as the live run did.
 */
export function stepJourneys(previous: JourneysState | undefined, input: JourneyInput, now: number, catalogue: JourneyCatalogue): Decision {
  const run = new Run(previous ?? emptyJourneysState(input.kind === 'update' ? input.update.profileId : ''), catalogue);
  if (input.kind === 'timer') {
    run.advance(now);
  } else if (input.kind === 'schedule') {
    // Only the schedules: what is due, samples and removed journeys are the timer's business, at their own moments.
    for (const journey of catalogue.journeys) run.schedule(journey, now);
    return { state: run.state, effects: [...run.effects, ...run.timerEffect(previous)] };
  } else {
    const update = input.update;
    // Short digests, not the ids: the list is part of every state write.
    const seen = createHash('sha256').update(update.updateId).digest('base64url').slice(0, 12);
    if (run.state.recentUpdates.includes(seen)) return { state: run.state, effects: run.timerEffect(previous) };
    run.state.recentUpdates = [...run.state.recentUpdates, seen].slice(-RECENT_UPDATES);
    // Whatever came due before this record is decided first, at its own time.
    run.advance(now);
    run.apply(update, now);
  }
  run.removeFinishedJourneys(now);
  run.emitSamples(now);
  run.state.sent = pruneHistory(run.state.sent, now, catalogue.policy);
  return { state: run.state, effects: [...run.effects, ...run.timerEffect(previous)] };
}

class Run {
  readonly effects: Effect[] = [];
  state: JourneysState;
  /** The event of the update being applied, if it is one. */
  private currentEvent: TriggerEvent | undefined;
  /** The profile and memberships before the update being applied (none before the profile's first update). */
  private before: { profile: ProfileState; segments: JourneysState['segments'] } | undefined;

  constructor(
    previous: JourneysState,
    private readonly catalogue: JourneyCatalogue,
  ) {
    // The previous state stays as it was (a caller may keep it): copy what this run mutates, share the profile.
    this.state = {
      ...previous,
      instances: previous.instances.map((instance) => ({ ...instance })),
      entries: { ...previous.entries },
      absences: [...previous.absences],
      recurring: { ...previous.recurring },
      inactivity: Object.fromEntries(Object.entries(previous.inactivity).map(([id, entry]) => [id, { ...entry }])),
      thresholds: { ...previous.thresholds },
      sent: [...previous.sent],
    };
  }

  timerEffect(previous: JourneysState | undefined): Effect[] {
    const due = nextDueAt(this.state);
    if (due !== undefined) return [{ kind: 'set-timer', dueAt: due }];
    return previous !== undefined && nextDueAt(previous) !== undefined ? [{ kind: 'cancel-timer' }] : [];
  }

  /** Everything due at or before `now`, in due order, each at its own due time. */
  advance(now: number): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const due = nextDueAt(this.state);
      if (due === undefined || due > now) return;
      this.fireDue(due);
    }
  }

  private fireDue(at: number): void {
    const sample = this.state.samples?.find((entry) => entry.at === at);
    if (sample) return this.emitSamples(at);
    const running = this.state.instances.find((entry) => entry.sampleAt !== undefined && !entry.sampled && entry.sampleAt + 1 === at);
    if (running) {
      // Its goal window closed while it still runs: not converted, counted as of the window's end.
      this.recordSample(running, false, running.sampleAt as number);
      running.sampled = true;
      return this.emitSamples(at);
    }
    const absence = this.state.absences.find((entry) => entry.deadline === at);
    if (absence) {
      this.state.absences = this.state.absences.filter((entry) => entry !== absence);
      const journey = this.catalogue.current(absence.journeyId);
      if (journey) this.tryEnter(journey, at, absence.event, `absence/${absence.key ?? ''}/${absence.deadline}`);
      return;
    }
    for (const [journeyId, entry] of Object.entries(this.state.recurring)) {
      if (entry.nextAt !== at) continue;
      const journey = this.catalogue.current(journeyId);
      const timeZone = this.timeZone();
      const date = calendarDate(entry.date);
      if (!journey || journey.trigger.kind !== 'recurring' || date === undefined) {
        delete this.state.recurring[journeyId];
        return;
      }
      // The next occurrence first, so a failure to enter does not stop the series.
      this.state.recurring[journeyId] = { date: entry.date, schedule: recurringSchedule(journey.trigger, timeZone), nextAt: nextOccurrence(date, journey.trigger.every, journey.trigger.at, journey.trigger.offset, at, timeZone) };
      this.tryEnter(journey, at, { name: `${journey.trigger.date} occurrence`, at, properties: { [journey.trigger.date]: entry.date } }, `recurring/${at}`);
      return;
    }
    for (const [journeyId, entry] of Object.entries(this.state.inactivity)) {
      if (entry.fired || entry.dueAt !== at) continue;
      entry.fired = true;
      const journey = this.catalogue.current(journeyId);
      if (journey) this.tryEnter(journey, at, { name: 'inactivity', at, properties: { lastActivityAt: iso(entry.since) } }, `inactive/${entry.since}`);
      return;
    }
    const instance = this.state.instances.find((entry) => entry.dueAt === at);
    if (instance) this.wake(instance, at);
  }

  apply(update: ProfileUpdateRecord, now: number): void {
    if (update.input.kind === 'erasure') {
      for (const instance of [...this.state.instances]) this.finish(instance, now, 'exited', { reason: 'profile erased' });
      this.state = { ...emptyJourneysState(update.profileId), recentUpdates: this.state.recentUpdates };
      return;
    }
    this.state.profileId = update.profileId;
    this.before = this.state.profile && { profile: this.state.profile, segments: this.state.segments };
    // Segmentation's de-duplication list is its own business (updates are recognised by updateId): not kept twice.
    if (update.state) this.state.profile = { ...(update.state as unknown as ProfileState), recentMessageIds: [] };
    this.state.segments = update.segments;
    const event = update.input.kind === 'event' && update.input.event.type === 'track' ? update.input.event : undefined;
    this.currentEvent = event && { name: event.event, messageId: event.messageId, at: now, properties: event.properties };

    if (this.currentEvent) this.onEvent(this.currentEvent, now);
    this.checkExitConditions(now);
    for (const journey of this.catalogue.journeys) this.checkEntry(journey, update, now);
    this.currentEvent = undefined;
    this.before = undefined;
  }

  /** An event reaches goals, waits for it, and pending absences it resolves. */
  private onEvent(event: TriggerEvent, now: number): void {
    // One event is one conversion per journey (and key): the latest entry gets it; an earlier instance still open for
    // the same goal (a re-entry while its window ran) ends without counting it again.
    const converted = new Map<string, string>();
    const latestFirst = this.state.instances.map((instance, index) => ({ instance, index })).sort((a, b) => b.instance.enteredAt - a.instance.enteredAt || b.index - a.index);
    for (const { instance } of latestFirst) {
      const journey = this.journeyOf(instance);
      const goal = journey?.goal;
      if (!journey || !goal || event.name !== goal.event || !matchesFilters(goal.where, event.properties, now) || now > (instance.goalUntil ?? 0) || !this.sameKey(journey, instance, event)) continue;
      // Per key: an order for cart c1 converts c1's instance; an order naming no cart converts one instance in all.
      const keyName = onePerKeyName(journey);
      const eventKey = keyName === undefined ? undefined : valueAt(event.properties, keyName);
      const slot = eventKey === undefined ? instance.journeyId : `${instance.journeyId}\u0000${instance.key ?? ''}`;
      const countedBy = converted.get(slot);
      if (countedBy !== undefined) {
        this.finish(instance, now, 'exited', { reason: 'goal reached by a later entry', creditedInstanceId: countedBy, messageId: event.messageId });
        continue;
      }
      converted.set(slot, instance.instanceId);
      const value = goal.value === undefined ? undefined : valueAt(event.properties, goal.value);
      this.finish(instance, now, 'goal-reached', {
        goal: goal.event,
        messageId: event.messageId,
        value: typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : undefined,
        currency: valueAt(event.properties, 'currency'),
        attributedStepId: attributedStep(instance),
      });
    }
    for (const instance of [...this.state.instances]) {
      const journey = this.journeyOf(instance);
      if (!journey) continue;
      if (instance.status === 'waiting-event') {
        const node = journey.steps[instance.stepId];
        if (node?.kind === 'waitForEvent' && this.awaited(node, instance, event, now)) {
          this.outcome(instance, 'step-executed', now, node.id, { waitForEvent: node.event, arrived: event.messageId });
          this.runFrom(instance, journey, node.onEvent, now);
          continue;
        }
      }
      if (this.journeyAwaits(journey, event.name)) instance.observed = [...instance.observed, event].slice(-OBSERVED_EVENTS);
    }
    for (const absence of [...this.state.absences]) {
      const journey = this.catalogue.version(absence.journeyId, absence.version) ?? this.catalogue.current(absence.journeyId);
      const unless = journey?.trigger.kind === 'event' ? journey.trigger.unlessFollowedBy : undefined;
      if (!unless || unless.event !== event.name) continue;
      if (unless.match !== undefined && !keyMatches(absence.key, valueAt(event.properties, unless.match))) continue;
      this.state.absences = this.state.absences.filter((entry) => entry !== absence);
      this.note(now, absence.journeyId, `${unless.event} followed ${absence.event.name}${absence.key ? ` for ${unless.match} ${absence.key}` : ''} in time: not entered`);
    }
  }

  private awaited(node: Extract<StepNode, { kind: 'waitForEvent' }>, instance: InstanceState, event: TriggerEvent, now: number): boolean {
    if (event.name !== node.event || !matchesFilters(node.where, event.properties, now)) return false;
    return node.match === undefined || keyMatches(instance.matchValue, valueAt(event.properties, node.match));
  }

  private journeyAwaits(journey: CompiledJourney, name: string | undefined): boolean {
    return Object.values(journey.steps).some((node) => node.kind === 'waitForEvent' && node.event === name);
  }

  /** With one instance per key, a goal event that names another key (another cart's order) is not this instance's. */
  private sameKey(journey: CompiledJourney, instance: InstanceState, event: TriggerEvent): boolean {
    const keyName = onePerKeyName(journey);
    if (keyName === undefined || instance.key === undefined) return true;
    return keyMatches(instance.key, valueAt(event.properties, keyName));
  }

  private checkExitConditions(now: number): void {
    for (const instance of [...this.state.instances]) {
      const journey = this.journeyOf(instance);
      if (journey?.exitWhen && this.holds(journey.exitWhen, now, this.currentEvent)) this.finish(instance, now, 'exited', { reason: 'exit condition' });
    }
  }

  removeFinishedJourneys(now: number): void {
    for (const instance of [...this.state.instances]) {
      if (this.catalogue.current(instance.journeyId) === undefined) this.finish(instance, now, 'exited', { reason: 'journey removed' });
    }
    for (const journeyId of Object.keys(this.state.recurring)) if (this.catalogue.current(journeyId) === undefined) delete this.state.recurring[journeyId];
    for (const journeyId of Object.keys(this.state.inactivity)) if (this.catalogue.current(journeyId) === undefined) delete this.state.inactivity[journeyId];
    this.state.absences = this.state.absences.filter((absence) => this.catalogue.current(absence.journeyId) !== undefined);
  }

  private checkEntry(journey: CompiledJourney, update: ProfileUpdateRecord, now: number): void {
    const trigger = journey.trigger;
    const event = this.currentEvent;
    switch (trigger.kind) {
      case 'event': {
        if (!event || event.name !== trigger.event || !matchesFilters(trigger.where, event.properties, now)) return;
        const unless = trigger.unlessFollowedBy;
        if (unless === undefined) {
          this.tryEnter(journey, now, event, `update/${update.updateId}`);
          return;
        }
        const keyValue = unless.match === undefined ? undefined : valueAt(event.properties, unless.match);
        const key = keyValue === undefined ? undefined : String(keyValue);
        // A newer A for the same key restarts the window with the newer content (the cart as it is now).
        this.state.absences = this.state.absences.filter((absence) => !(absence.journeyId === journey.id && absence.key === key));
        const absence: PendingAbsence = { journeyId: journey.id, version: journey.version, key, deadline: now + unless.within, event };
        this.state.absences.push(absence);
        this.note(now, journey.id, `${event.name}${key ? ` (${unless.match} ${key})` : ''}: enters at ${iso(absence.deadline)} unless ${unless.event} follows`);
        return;
      }
      case 'segment': {
        // A backfill is the definition changing, not the customer doing anything: members a new segment finds already
        // there do not "enter" it unless the journey asks for them.
        const change = update.changes.find(
          (entry) => entry.segmentId === trigger.segment && entry.change === trigger.on && (trigger.includeBackfill || entry.cause.kind !== 'backfill'),
        );
        if (change) this.tryEnter(journey, now, event ?? { name: `segment ${trigger.segment} ${trigger.on}`, at: now }, `segment/${change.changeId}`);
        return;
      }
      case 'threshold': {
        if (!this.state.profile) return;
        // No event: a crossing is of the profile's state, and an update without a track event must not reset it.
        const holds = this.holds(trigger.rule, now, undefined);
        // A journey published after this profile's last update has no record of it: whether the rule held before is
        // judged on the profile as it was, so a customer long above the line is not "crossing" it at her next visit.
        const before = this.state.thresholds[journey.id] ?? (this.before !== undefined && this.holds(trigger.rule, now, undefined, this.before));
        this.state.thresholds[journey.id] = holds;
        // A backfill moving the profile into a segment the rule names is the definition changing, not a crossing.
        if (holds && !before && update.input.kind !== 'backfill') this.tryEnter(journey, now, event ?? { name: 'threshold crossed', at: now }, `threshold/${update.updateId}`);
        return;
      }
      case 'inactivity':
      case 'recurring':
        return this.schedule(journey, now);
    }
  }

  /**
   * An inactivity deadline or a recurring date: scheduled from the profile's state, rescheduled when it changed. A
   * deadline already past when it is first set or moved is not made up for: it can only be past because the journey
   * (or its inactiveFor) is newer than the activity, and publishing a 90-day win-back must not mail everyone inactive
   * for longer at once — as a newly published segment's members do not "enter" it (a segment trigger with
   * includeBackfill reaches them, if that is what is wanted). Found by review: in a first draft only the schedule
   * pass held them back, so a profile's update that came before the pass mailed her at once.
   */
  schedule(journey: CompiledJourney, now: number): void {
    const trigger = journey.trigger;
    switch (trigger.kind) {
      case 'inactivity': {
        const since = this.state.profile?.lastActivityAt;
        if (since === undefined) return;
        const current = this.state.inactivity[journey.id];
        const dueAt = since + trigger.inactiveFor;
        if (current?.since === since && (current.fired || current.dueAt === dueAt)) return;
        const past = dueAt <= now;
        this.state.inactivity[journey.id] = { since, dueAt, fired: past };
        if (past) this.note(now, journey.id, `inactive since ${iso(since)}, longer than ${journey.describe} when it came into force: not made up for`);
        return;
      }
      case 'recurring': {
        const raw = this.state.profile?.traits[trigger.date]?.value;
        const date = calendarDate(raw);
        if (date === undefined || typeof raw !== 'string') {
          delete this.state.recurring[journey.id];
          return;
        }
        const current = this.state.recurring[journey.id];
        const timeZone = this.timeZone();
        const schedule = recurringSchedule(trigger, timeZone);
        // An entry from before schedules were recorded keeps its moment until it fires.
        if (current?.date === raw && (current.schedule ?? schedule) === schedule) return;
        let nextAt: number;
        if (current?.date === raw && sameDefinition(current.schedule, schedule)) {
          // The same date in another time zone (a phone and a laptop in two zones): the pending occurrence moves to its
          // local time there — one that has passed there comes now; none is skipped, none comes twice.
          nextAt = Math.max(now, nextOccurrence(date, trigger.every, trigger.at, trigger.offset, current.nextAt - ZONE_SPREAD_MS, timeZone));
        } else {
          // A new or changed date, or a changed every/at/offset: from now — an occurrence already past is not made up for.
          nextAt = nextOccurrence(date, trigger.every, trigger.at, trigger.offset, now, timeZone);
        }
        this.state.recurring[journey.id] = { date: raw, schedule, nextAt };
        this.note(now, journey.id, `${trigger.date} ${raw}: next occurrence ${iso(nextAt)}`);
        return;
      }
    }
  }

  /** Entry under the journey's status, condition and re-entry rules. */
  private tryEnter(journey: CompiledJourney, at: number, trigger: TriggerEvent, entryId: string): void {
    if (!this.state.profile) return;
    if (journey.status === 'paused') return this.note(at, journey.id, 'paused: no new entries');
    if (journey.onlyIf && !this.holds(journey.onlyIf, at, trigger)) return this.note(at, journey.id, `not entered: onlyIf does not hold (${journey.describe})`);
    if (journey.exitWhen && this.holds(journey.exitWhen, at, trigger)) return this.note(at, journey.id, 'not entered: its exit condition holds');
    const entries = this.state.entries[journey.id];
    const reentry = journey.reentry;
    if (entries && reentry.allow === 'once') return this.note(at, journey.id, 'not entered: once per profile, entered before');
    if (entries && reentry.allow === 'oncePer' && at < entries.lastAt + (reentry.period ?? 0)) return this.note(at, journey.id, `not entered: once per period, last entry ${iso(entries.lastAt)}`);
    const keyValue = reentry.key === undefined ? undefined : valueAt(trigger.properties, reentry.key);
    const key = keyValue === undefined ? undefined : String(keyValue);
    const running = this.state.instances.filter((instance) => instance.journeyId === journey.id && instance.status !== 'done');
    if (reentry.activeInstances === 'onePerProfile' && running.length > 0) return this.note(at, journey.id, 'not entered: an instance is already active');
    if (reentry.activeInstances === 'onePerKey' && running.some((instance) => instance.key === key)) return this.note(at, journey.id, `not entered: an instance for ${reentry.key} ${key} is already active`);
    const instance: InstanceState = {
      instanceId: stableId('i', journey.id, journey.version, this.state.profileId, entryId),
      journeyId: journey.id,
      version: journey.version,
      key,
      enteredAt: at,
      trigger,
      status: 'waiting',
      stepId: journey.first,
      dueAt: at,
      goalUntil: journey.goal ? at + journey.goal.within : undefined,
      observed: [],
    };
    this.state.entries[journey.id] = { count: (entries?.count ?? 0) + 1, lastAt: at };
    this.state.instances.push(instance);
    this.outcome(instance, 'entered', at, undefined, { trigger: journey.describe, key, event: trigger.name, messageId: trigger.messageId });
    this.runFrom(instance, journey, journey.first, at);
  }

  private wake(instance: InstanceState, at: number): void {
    const journey = this.journeyOf(instance);
    if (this.catalogue.current(instance.journeyId) === undefined) return this.finish(instance, at, 'exited', { reason: 'journey removed' });
    if (!journey) return this.finish(instance, at, 'exited', { reason: 'journey version unavailable' });
    if (instance.status === 'done') return this.finish(instance, at, 'exited', { reason: 'completed' });
    // Time alone can make the condition hold ("ordered within the last day" of an order before entry), as can an
    // update applied when no step was due: checked before the next step runs, not only when the next record comes.
    // No event arrives with a timer: an eventProperty condition has nothing to read.
    if (journey.exitWhen && this.holds(journey.exitWhen, at, undefined)) return this.finish(instance, at, 'exited', { reason: 'exit condition' });
    if (instance.status === 'waiting-event') {
      const node = journey.steps[instance.stepId];
      if (node?.kind !== 'waitForEvent') return this.finish(instance, at, 'exited', { reason: `step ${instance.stepId} not in version ${instance.version}` });
      this.outcome(instance, 'step-executed', at, node.id, { waitForEvent: node.event, timedOut: true });
      return this.runFrom(instance, journey, node.onTimeout, at);
    }
    this.runFrom(instance, journey, instance.stepId, at);
  }

  /** Runs steps from `stepId` until the instance waits or ends. */
  private runFrom(instance: InstanceState, journey: CompiledJourney, stepId: string, at: number): void {
    let current = stepId;
    for (let guard = 0; guard < 1_000; guard++) {
      if (current === END) {
        if (instance.goalUntil !== undefined && instance.goalUntil > at) {
          // Steps done; the goal window stays open so a later conversion is still attributed.
          Object.assign(instance, { status: 'done', stepId: END, dueAt: instance.goalUntil });
          return;
        }
        return this.finish(instance, at, 'exited', { reason: 'completed' });
      }
      const node = journey.steps[current];
      if (!node) return this.finish(instance, at, 'exited', { reason: `step ${current} not in version ${instance.version}` });
      const next = this.execute(instance, journey, node, at);
      if (next === undefined) return;
      current = next;
    }
  }

  /** One step: the step to go on with, or undefined when the instance waits (or ended). */
  private execute(instance: InstanceState, journey: CompiledJourney, node: StepNode, at: number): string | undefined {
    switch (node.kind) {
      case 'send':
        return this.send(instance, journey, node, at);
      case 'wait': {
        const until = this.waitUntil(instance, node.wait, at);
        if (until <= at) return node.next;
        Object.assign(instance, { status: 'waiting', stepId: node.next, dueAt: until });
        this.outcome(instance, 'waiting', at, node.id, { until: iso(until) });
        return undefined;
      }
      case 'waitForEvent': {
        const matchValue = node.match === undefined ? undefined : valueAt(instance.trigger?.properties, node.match);
        Object.assign(instance, { matchValue });
        const seen = instance.observed.find((event) => this.awaited(node, instance, event, event.at));
        if (seen) {
          // The awaited event came before the wait began (right behind the trigger): it counts, once — a later wait for
          // the same event needs another one.
          instance.observed = instance.observed.filter((event) => event !== seen);
          this.outcome(instance, 'step-executed', at, node.id, { waitForEvent: node.event, arrived: seen.messageId });
          instance.lastStepId = node.id;
          return node.onEvent;
        }
        Object.assign(instance, { status: 'waiting-event', stepId: node.id, dueAt: at + node.timeout, lastStepId: node.id });
        this.outcome(instance, 'waiting', at, node.id, { forEvent: node.event, match: node.match, until: iso(at + node.timeout) });
        return undefined;
      }
      case 'branch': {
        const holds = this.holds(node.rule, at, instance.trigger);
        instance.lastStepId = node.id;
        this.outcome(instance, 'step-executed', at, node.id, { branch: holds ? 'then' : 'else' });
        return holds ? node.then : node.else;
      }
      case 'split': {
        const winner = node.winner ? this.catalogue.splitWinner(journey.id, journey.version, node.id) : undefined;
        const pick = splitPick(journey.id, node.id, this.state.profileId, node.variants, node.control, winner && at >= winner.effectiveAt ? winner.variant : undefined);
        instance.variant = pick.name;
        if (node.winner && pick.name !== 'control' && instance.goalUntil !== undefined) instance.sampleAt = instance.goalUntil;
        instance.lastStepId = node.id;
        this.outcome(instance, 'step-executed', at, node.id, { split: pick.name, ...(pick.byWinner ? { winner: true } : {}) });
        return pick.first ?? END;
      }
      case 'updateProfile': {
        const local = toLocal(at, this.timeZone());
        const values: Record<string, string> = { year: String(local.year), month: String(local.month), day: String(local.day), journey: journey.id, profileId: this.state.profileId };
        const traits = Object.fromEntries(Object.entries(node.set).map(([name, value]) => [name, typeof value === 'string' ? value.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole) : value]));
        this.effects.push({ kind: 'update-profile', update: { profileId: this.state.profileId, messageId: stableId('u', instance.instanceId, node.id), at: iso(at), traits } });
        instance.lastStepId = node.id;
        this.outcome(instance, 'step-executed', at, node.id, { updateProfile: traits });
        return node.next;
      }
      case 'webhook': {
        const base = this.requestOf(journey, instance, node.id, at);
        const { dispatchId } = base;
        this.effects.push({
          kind: 'dispatch',
          request: {
            ...base,
            reason: { trigger: journey.describe },
            channel: 'webhook',
            url: node.url,
            secretName: node.secret,
            body: { profile: this.profileContext(), event: instance.trigger ?? null, journey: { id: journey.id, version: journey.version, step: node.id } },
          },
        });
        instance.lastStepId = node.id;
        this.outcome(instance, 'step-executed', at, node.id, { webhook: node.url, dispatchId });
        return node.next;
      }
      case 'exit':
        instance.lastStepId = node.id;
        this.finish(instance, at, 'exited', { reason: node.reason, stepId: node.id });
        return undefined;
    }
  }

  /** A send under the guard rails: consent, quiet hours, frequency cap. */
  private send(instance: InstanceState, journey: CompiledJourney, node: Extract<StepNode, { kind: 'send' }>, at: number): string | undefined {
    const purpose = this.catalogue.templatePurpose(node.template) ?? 'marketing';
    const consent = decideConsent(this.state.profile, purpose, this.catalogue.model);
    if (!consent.allowed) {
      this.outcome(instance, 'suppressed-by-consent', at, node.id, { template: node.template, purpose, consent: consent.status, proof: consent.proof });
      instance.lastStepId = node.id;
      return node.next;
    }
    const timeZone = this.timeZone();
    const quietUntil = quietHoursUntil(at, purpose, timeZone, this.catalogue.policy);
    if (quietUntil !== undefined) {
      Object.assign(instance, { status: 'retry', stepId: node.id, dueAt: quietUntil });
      this.outcome(instance, 'deferred', at, node.id, { template: node.template, reason: 'quiet hours', timeZone, until: iso(quietUntil) });
      return undefined;
    }
    const capped = checkCaps(this.state.sent, 'email', purpose, at, this.catalogue.policy);
    if (capped) {
      if (journey.whenCapped === 'defer') {
        Object.assign(instance, { status: 'retry', stepId: node.id, dueAt: capped.allowedAt });
        this.outcome(instance, 'deferred', at, node.id, { template: node.template, reason: 'frequency cap', rule: capped.rule, until: iso(capped.allowedAt) });
        return undefined;
      }
      this.outcome(instance, 'capped', at, node.id, { template: node.template, rule: capped.rule, action: 'skipped' });
      instance.lastStepId = node.id;
      return node.next;
    }
    const base = this.requestOf(journey, instance, node.id, at);
    const { dispatchId } = base;
    const trigger = instance.trigger;
    this.effects.push({
      kind: 'dispatch',
      request: {
        ...base,
        reason: { trigger: journey.describe, rule: journey.onlyIf ? 'onlyIf held at entry' : undefined, consent: consent.evidence },
        channel: 'email',
        purpose,
        templateId: node.template,
        context: {
          profile: this.profileContext(),
          event: trigger && { name: trigger.name, messageId: trigger.messageId, properties: trigger.properties },
          journey: { id: journey.id, name: journey.name, step: node.id, variant: instance.variant },
          locale: this.state.profile?.locale?.value,
          timeZone,
        },
        ...(journey.sender ? { sender: journey.sender } : {}),
      },
    });
    this.state.sent.push({ at, channel: 'email', purpose, dispatchId });
    instance.lastStepId = node.id;
    instance.lastSentStepId = node.id;
    this.outcome(instance, 'step-executed', at, node.id, { template: node.template, purpose, dispatchId, consent: consent.evidence.status });
    return node.next;
  }

  private waitUntil(instance: InstanceState, wait: Extract<StepNode, { kind: 'wait' }>['wait'], at: number): number {
    if ('ms' in wait) return at + wait.ms;
    if ('untilTime' in wait) return nextLocalTime(at, wait.untilTime, this.timeZone());
    const raw = valueAt(instance.trigger?.properties, wait.untilDate) ?? this.state.profile?.traits[wait.untilDate]?.value;
    const date = toTime(raw);
    // No such date: nothing to wait for.
    return date === undefined ? at : date + wait.offset;
  }

  private finish(instance: InstanceState, at: number, kind: 'exited' | 'goal-reached', detail: Record<string, unknown>): void {
    this.state.instances = this.state.instances.filter((entry) => entry !== instance);
    this.outcome(instance, kind, at, kind === 'goal-reached' ? attributedStep(instance) : (detail.stepId as string | undefined), detail);
    // A sample of its split's test (counted when the goal window closes), unless it was counted already or ended for a
    // reason that says nothing of the variant.
    if (instance.sampleAt === undefined || instance.sampled || NO_SAMPLE.has(detail.reason as string)) return;
    this.recordSample(instance, kind === 'goal-reached', Math.max(at, instance.sampleAt));
  }

  private recordSample(instance: InstanceState, converted: boolean, at: number): void {
    const split = winnerSplit(this.journeyOf(instance));
    if (!split || instance.variant === undefined || !split.variants.includes(instance.variant)) return;
    const sample: SplitSample = { journeyId: instance.journeyId, version: instance.version, stepId: split.stepId, variant: instance.variant, converted, at };
    this.state.samples = [...(this.state.samples ?? []), sample];
  }

  /** Samples whose goal window has closed by `now` go to the split's tally (split-sample effects). */
  emitSamples(now: number): void {
    if (!this.state.samples?.some((sample) => sample.at <= now)) return;
    for (const sample of this.state.samples) if (sample.at <= now) this.effects.push({ kind: 'split-sample', sample });
    const open = this.state.samples.filter((sample) => sample.at > now);
    if (open.length > 0) this.state.samples = open;
    else delete this.state.samples;
  }

  private outcome(instance: InstanceState, kind: JourneyOutcomeRecord['kind'], at: number, stepId: string | undefined, detail: Record<string, unknown>): void {
    const clean = Object.fromEntries(Object.entries(detail).filter(([, value]) => value !== undefined));
    this.effects.push({
      kind: 'outcome',
      outcome: {
        outcomeId: stableId('o', instance.instanceId, stepId, kind, at),
        kind,
        profileId: this.state.profileId,
        journeyId: instance.journeyId,
        journeyVersion: instance.version,
        instanceId: instance.instanceId,
        ...(stepId === undefined ? {} : { stepId }),
        ...(instance.variant === undefined ? {} : { variant: instance.variant }),
        at: iso(at),
        detail: clean,
      },
    });
  }

  private note(at: number, journeyId: string, text: string): void {
    this.effects.push({ kind: 'note', at, journeyId, text });
  }

  /** What every request a step makes starts with: its deterministic dispatch id, the profile, when and where from. */
  private requestOf(journey: CompiledJourney, instance: InstanceState, stepId: string, at: number) {
    return {
      dispatchId: stableId('d', journey.id, journey.version, this.state.profileId, instance.instanceId, stepId),
      profileId: this.state.profileId,
      requestedAt: iso(at),
      origin: this.origin(instance, stepId),
    };
  }

  private origin(instance: InstanceState, stepId: string) {
    return { journeyId: instance.journeyId, journeyVersion: instance.version, instanceId: instance.instanceId, stepId, ...(instance.variant === undefined ? {} : { variant: instance.variant }) };
  }

  private journeyOf(instance: InstanceState): CompiledJourney | undefined {
    return this.catalogue.version(instance.journeyId, instance.version);
  }

  /** A condition over the profile, and (eventProperty) over `event`: the instance's trigger, the entering or the current event. */
  private holds(rule: Rule, now: number, event: TriggerEvent | undefined, as: { profile?: ProfileState; segments: JourneysState['segments'] } = this.state): boolean {
    const profile = as.profile;
    if (!profile) return false;
    const segments = new Map<string, Verdict>(Object.keys(as.segments).map((id) => [id, { matches: true }]));
    return evaluateRule(rule, { state: profile, model: this.catalogue.model, now, segments, event }).matches;
  }

  /**
   * The profile as templates and webhooks see it: its traits, and what its state knows that a shop rarely sends as a
   * trait — the last order's time and the number of orders (the profile model's purchase event), which the example
   * win-back mail quotes. A trait of the same name wins.
   */
  private profileContext(): Record<string, unknown> {
    const orders = this.state.profile?.series[seriesKey({ event: this.catalogue.model.lifecycle.purchaseEvent, where: [] })];
    return { profileId: this.state.profileId, ...(orders && orders.count > 0 ? { lastOrderAt: iso(orders.lastAt), orderCount: orders.count } : {}), ...this.traits() };
  }

  private traits(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.state.profile?.traits ?? {}).map(([name, stamped]) => [name, stamped.value]));
  }

  private timeZone(): string {
    return knownTimeZone(this.state.profile?.timeZone?.value, this.catalogue.policy.defaultTimeZone);
  }
}

/**
 * A/B/n: the same profile always lands in the same variant of a split (a hash of journey, step and profile mapped
 * onto the weights), so a replay, a re-entry and a second service instance agree. The control group gets nothing.
 * Once a winner is decided, whoever is not in the control group gets the winner: the holdout stays a holdout.
 */
export function splitPick(
  journeyId: string,
  stepId: string,
  profileId: string,
  variants: ReadonlyArray<{ name: string; weight: number; first: string }>,
  control: number,
  winner?: string,
): { name: string; first?: string; byWinner?: true } {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0) + control;
  const hash = createHash('sha256').update(`${journeyId}\u0000${stepId}\u0000${profileId}`).digest();
  const point = (hash.readUInt32BE(0) / 0x1_0000_0000) * total;
  if (point >= total - control) return { name: 'control' };
  const won = variants.find((variant) => variant.name === winner);
  if (won) return { name: won.name, first: won.first, byWinner: true };
  let edge = 0;
  for (const variant of variants) {
    edge += variant.weight;
    if (point < edge) return { name: variant.name, first: variant.first };
  }
  return { name: 'control' };
}

/** The step a conversion is credited to: the last mail that went out, or the last step when none did (a control group). */
function attributedStep(instance: InstanceState): string | undefined {
  return instance.lastSentStepId ?? instance.lastStepId;
}

/** What a recurring trigger's next occurrence depends on besides the date (the definition's part, then the zone): a change reschedules it. */
function recurringSchedule(trigger: Extract<CompiledJourney['trigger'], { kind: 'recurring' }>, timeZone: string): string {
  return `${trigger.every} ${trigger.at.hour}:${trigger.at.minute} ${trigger.offset}|${timeZone}`;
}

function sameDefinition(a: string | undefined, b: string): boolean {
  return a !== undefined && a.split('|')[0] === b.split('|')[0];
}

/** More than the widest difference between two time zones' clocks (UTC-12 to UTC+14). */
const ZONE_SPREAD_MS = 27 * 3_600_000;

/** The property that tells a journey's instances apart, when it keeps one per key (a cartId). */
function onePerKeyName(journey: CompiledJourney): string | undefined {
  return journey.reentry.activeInstances === 'onePerKey' ? journey.reentry.key : undefined;
}
