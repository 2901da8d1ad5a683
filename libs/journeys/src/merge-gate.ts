import { ProfileUpdateRecord } from '@kairos/contracts';
import { JourneyCatalogue } from './journey-catalogue';
import { emptyJourneysState, JourneysState, mergeJourneysStates, nextDueAt } from './journeys-state';
import { Effect, JourneyInput, stepJourneys } from './step-journeys';

/**
 * A profile's journeys with the hand-overs of merged-away profiles around the moment of the merge. Segmentation marks
 * that moment in the survivor's stream (an update with input `merge` naming the loser); the loser's journeys come
 * from the loser's writer, on another partition, whenever it gets there. Folding them exactly at the mark makes the
 * survivor's decisions independent of when they arrive: live and replay decide alike, and an order placed right after
 * the merge cancels the reminder of a cart the loser left.
 */
export interface GatedJourneys extends JourneysState {
  /** Hand-overs that arrived (at: the merge's time) before the survivor's stream named their loser: folded when it does. */
  arrived?: Record<string, { at: number; journeys: JourneysState }>;
  /** The survivor's stream named these losers before their hand-overs arrived: its inputs wait in `held`, in order. */
  awaiting?: { losers: string[]; since: number };
  held?: Array<{ update: ProfileUpdateRecord; at: number }>;
  /** Losers given up on (HOLD_LIMIT): their hand-over is folded as soon as it is here. */
  late?: string[];
}

/** One input of a profile: a record of its stream, its timer, or the journeys of a profile merged into it. */
export type GateInput = JourneyInput | { kind: 'hand-over'; loserId: string; state: GatedJourneys };

export interface GateDecision {
  state: GatedJourneys;
  /** The stepping function's effects, in order; the timer effect (at most one) comes last. */
  effects: Effect[];
  /** The profile was merged away (its own stream said so): its journeys, as they stand, go to the survivor. */
  handOver?: { survivorId: string };
}

/**
 * How long a survivor waits for a hand-over before it decides without: 100 of its own updates, or 7 days after the
 * merge (the transfers topic's retention: a hand-over older than that cannot come any more). Both are read from the
 * survivor's own stream, never from how the partitions interleave, so a replay gives up where the live run did. A
 * hand-over that arrived and whose merge mark never came is folded as late after the same 7 days.
 */
export const HOLD_LIMIT = { ms: 7 * 24 * 60 * 60_000, updates: 100 } as const;

/** The loser a survivor's update names, if it is segmentation's merge mark (the loser's own last update is not). */
function mergedLoser(update: ProfileUpdateRecord): string | undefined {
  const input = update.input;
  return input.kind === 'merge' && input.survivorId === undefined && input.loserId !== update.profileId ? input.loserId : undefined;
}

/**
 * stepJourneys behind the merge gate: the pure core of a profile's ordered path in triggers. Hand-overs are folded at
 * the survivor's merge mark (kept in `arrived` until then; the profile's inputs wait in `held` when the mark comes
 * first), the loser's own last update hands its journeys over, and an erasure passes everything that waits.
 */
export function gateJourneys(profileId: string, previous: GatedJourneys | undefined, input: GateInput, now: number, catalogue: JourneyCatalogue): GateDecision {
  return new Gate(profileId, previous, catalogue).run(input, now);
}

class Gate {
  private state: GatedJourneys | undefined;
  private readonly effects: Effect[] = [];
  private handOver: { survivorId: string } | undefined;

  constructor(
    private readonly profileId: string,
    private readonly previous: GatedJourneys | undefined,
    private readonly catalogue: JourneyCatalogue,
  ) {
    this.state = previous;
  }

  run(input: GateInput, now: number): GateDecision {
    if (input.kind === 'hand-over') this.receive(input.loserId, input.state, now);
    else if (input.kind === 'timer') this.timer(now);
    // A profile waiting for a hand-over is scheduled by the update that releases it.
    else if (input.kind === 'schedule') {
      if (!this.state?.awaiting) this.step(input, now);
    } else this.update(input.update, now);
    const state = this.state ?? emptyJourneysState(this.profileId);
    return { state, effects: [...this.effects, ...this.timerEffect(state)], ...(this.handOver ? { handOver: this.handOver } : {}) };
  }

  /** A loser's journeys (with the hand-overs it held itself): kept until the stream names them, folded if it did. */
  private receive(loserId: string, loser: GatedJourneys, at: number): void {
    const state = this.current();
    if (state.foldedLosers?.includes(loserId)) return;
    const { arrived: nested = {}, ...journeys } = loser;
    const arrived = { ...state.arrived };
    for (const [id, entry] of Object.entries({ ...nested, [loserId]: { at, journeys } })) if (!state.foldedLosers?.includes(id)) arrived[id] = entry;
    this.state = { ...state, arrived };
    this.settle();
  }

  /** Folds what arrived for a loser given up on or awaited; releases the held inputs once nothing is awaited. */
  private settle(): void {
    this.foldLate();
    const awaiting = this.current().awaiting;
    if (!awaiting) return;
    for (const id of awaiting.losers) if (this.current().arrived?.[id]) this.fold(id);
    const losers = awaiting.losers.filter((id) => !this.current().foldedLosers?.includes(id));
    if (losers.length === 0) this.release();
    else this.state = { ...this.current(), awaiting: { ...awaiting, losers } };
  }

  /** Hand-overs here for losers given up on; also those whose merge mark did not come within the limit. */
  private foldLate(now?: number): void {
    for (const [id, entry] of Object.entries(this.current().arrived ?? {})) {
      if (now !== undefined && entry.at + HOLD_LIMIT.ms <= now && !this.current().late?.includes(id)) this.state = { ...this.current(), late: [...(this.current().late ?? []), id] };
    }
    for (const id of this.current().late ?? []) if (this.current().arrived?.[id]) this.fold(id);
  }

  private timer(now: number): void {
    const awaiting = this.state?.awaiting;
    if (!awaiting) return this.step({ kind: 'timer' }, now);
    if (now >= awaiting.since + HOLD_LIMIT.ms) this.giveUp();
  }

  private update(update: ProfileUpdateRecord, at: number): void {
    const state = this.current();
    if (update.input.kind === 'erasure') {
      // Nothing waits for an erasure, and nothing that waited is decided any more.
      const { arrived: _arrived, awaiting: _awaiting, held: _held, ...rest } = state;
      this.state = rest;
      return this.step({ kind: 'update', update }, at);
    }
    if (state.awaiting) {
      const held = [...(state.held ?? []), { update, at }];
      this.state = { ...state, held };
      if (held.length >= HOLD_LIMIT.updates) this.giveUp();
      return;
    }
    this.apply(update, at);
  }

  /** An update in its turn (not waiting behind a hand-over). */
  private apply(update: ProfileUpdateRecord, at: number): void {
    if (this.state?.arrived) this.foldLate(at);
    const state = this.current();
    const input = update.input;
    if (input.kind === 'merge' && input.survivorId !== undefined && input.loserId === update.profileId && input.survivorId !== update.profileId) {
      this.handOver = { survivorId: input.survivorId };
      return;
    }
    const loserId = mergedLoser(update);
    if (loserId !== undefined && !state.foldedLosers?.includes(loserId) && !state.late?.includes(loserId)) {
      if (!state.arrived?.[loserId]) {
        this.state = { ...state, awaiting: { losers: [loserId], since: at }, held: [{ update, at }] };
        return;
      }
      this.fold(loserId);
    }
    this.step({ kind: 'update', update }, at);
  }

  /** The inputs that waited, in order, now that nothing is awaited (one may name another loser and wait again). */
  private release(): void {
    const { awaiting: _awaiting, held = [], ...rest } = this.current();
    this.state = rest;
    for (const [index, entry] of held.entries()) {
      if (this.handOver) return; // merged away itself: what follows is the survivor's
      if (this.state.awaiting) {
        this.state = { ...this.state, held: [...(this.state.held ?? []), ...held.slice(index)] };
        return;
      }
      this.apply(entry.update, entry.at);
    }
  }

  private giveUp(): void {
    const state = this.current();
    this.state = { ...state, late: [...(state.late ?? []), ...(state.awaiting?.losers ?? [])] };
    this.release();
  }

  /**
   * The journeys that arrived for `loserId`, folded in (once: mergeJourneysStates remembers the loser), and then any
   * that arrived for a loser the folded one had given up on.
   */
  private fold(loserId: string): void {
    const { [loserId]: entry, ...arrived } = this.current().arrived ?? {};
    if (!entry) return;
    const loser: GatedJourneys = entry.journeys;
    const merged: GatedJourneys = mergeJourneysStates(this.current(), { ...loser, profileId: loserId });
    const late = [...new Set([...(merged.late ?? []), ...(loser.late ?? [])])].filter((id) => !merged.foldedLosers?.includes(id));
    this.state = { ...merged, arrived, late };
    cleanUp(this.state);
    for (const id of late) if (this.current().arrived?.[id]) this.fold(id);
  }

  private step(input: JourneyInput, at: number): void {
    const decision = stepJourneys(this.state, input, at, this.catalogue);
    for (const effect of decision.effects) if (effect.kind !== 'set-timer' && effect.kind !== 'cancel-timer') this.effects.push(effect);
    this.state = decision.state;
  }

  private current(): GatedJourneys {
    return this.state ?? emptyJourneysState(this.profileId);
  }

  /** The one timer: the hold's limit while a hand-over is awaited, else the journeys' next due moment. */
  private timerEffect(state: GatedJourneys): Effect[] {
    const due = dueOf(state);
    if (due !== undefined) return [{ kind: 'set-timer', dueAt: due }];
    return this.previous !== undefined && dueOf(this.previous) !== undefined ? [{ kind: 'cancel-timer' }] : [];
  }
}

const dueOf = (state: GatedJourneys): number | undefined => (state.awaiting ? state.awaiting.since + HOLD_LIMIT.ms : nextDueAt(state));

/** Empty optional parts are left out of the stored state. */
function cleanUp(state: GatedJourneys): void {
  if (state.arrived && Object.keys(state.arrived).length === 0) delete state.arrived;
  if (!state.late?.length) delete state.late;
}
