import { Verdict, compare, valueAt } from './comparison';
import { consentStatus } from './consent';
import { engagementLevel, lifecycleStage, scoreValue } from './derived';
import { ConsentKey, ProfileModel, scoreKey, seriesKey } from './profile-model';
import { ProfileState } from './profile-state';
import { Comparison, EventSelector, Rule } from './rule';
import { aggregateValue, countWithin } from './series';

export interface RuleContext {
  state: ProfileState;
  model: ProfileModel;
  now: number;
  /** Verdicts of the segments this rule may name with inSegment, evaluated before it (dependency order). */
  segments?: ReadonlyMap<string, Verdict>;
  /** The event that triggered a journey, for eventProperty (none in a segment, where such a rule reads no value). */
  event?: { properties?: Record<string, unknown> };
}

/**
 * Whether the profile matches the rule at `now`, and `changesAt`: the earliest moment the answer can change
 * without a new event (undefined: only an event can change it). `changesAt` is a lower bound — at that moment the
 * answer may turn out the same, and the caller evaluates again and sets the next one — never later than the change.
 * The same function serves live evaluation, timers and backfill.
 */
export function evaluateRule(rule: Rule, context: RuleContext): Verdict {
  const { state, model, now } = context;
  switch (rule.kind) {
    case 'all':
    case 'any': {
      // The bounds in plain loops, without intermediate arrays: this runs for every segment on every input.
      const verdicts = rule.rules.map((child) => evaluateRule(child, context));
      const matches = rule.kind === 'all' ? verdicts.every((v) => v.matches) : verdicts.some((v) => v.matches);
      // all: true until any child flips; false until every false child has flipped (so not before the last of them).
      // any is the mirror image.
      const decisive = rule.kind === 'all' ? !matches : matches;
      if (!decisive) {
        let changesAt: number | undefined;
        for (const verdict of verdicts) changesAt = sooner(changesAt, verdict.changesAt);
        return { matches, changesAt };
      }
      let last = Number.NEGATIVE_INFINITY;
      for (const verdict of verdicts) {
        if (verdict.matches !== matches) continue;
        if (verdict.changesAt === undefined) return { matches, changesAt: undefined }; // a blocking child only an event can flip
        last = Math.max(last, verdict.changesAt);
      }
      return { matches, changesAt: last };
    }
    case 'not': {
      const verdict = evaluateRule(rule.rule, context);
      return { matches: !verdict.matches, changesAt: verdict.changesAt };
    }
    case 'trait':
      return compare(rule.test, traitValue(state, rule.trait), now);
    case 'performed': {
      const thresholds = [rule.atLeast, rule.atMost, rule.exactly].filter((n) => n !== undefined);
      const counted = count(rule.selector, rule.within, context, Math.max(1, ...thresholds) + 1);
      const n = counted.value;
      const none = thresholds.length === 0;
      const matches =
        (none ? n >= 1 : true) &&
        (rule.atLeast === undefined || n >= rule.atLeast) &&
        (rule.atMost === undefined || n <= rule.atMost) &&
        (rule.exactly === undefined || n === rule.exactly);
      return { matches, changesAt: counted.changesAt };
    }
    case 'notPerformed': {
      const counted = count(rule.selector, rule.within, context, 1);
      return { matches: counted.value === 0, changesAt: counted.changesAt };
    }
    case 'aggregate': {
      const spec = seriesSpec(model, rule.aggregate.selector);
      const value = aggregateValue(state.series[spec.key], spec, rule.aggregate, now);
      const verdict = compare(rule.test, value.value, now);
      return { matches: verdict.matches, changesAt: sooner(value.changesAt, verdict.changesAt) };
    }
    case 'score': {
      const value = scoreValue(state.scores[scoreKey(rule.score)], rule.score.halfLife, now);
      return { ...compare(rule.test, value, now), changesAt: rule.score.halfLife === undefined ? undefined : decayCrossing(rule.test, value, rule.score.halfLife, now) };
    }
    case 'lifecycle': {
      const stage = lifecycleStage(state, model, now);
      return { matches: rule.stages.includes(stage.value), changesAt: stage.changesAt };
    }
    case 'engagement': {
      const level = engagementLevel(state, model, now);
      return { matches: rule.levels.includes(level.value), changesAt: level.changesAt };
    }
    case 'consent': {
      const key: ConsentKey = `${rule.channel}.${rule.purpose}`;
      const effective = consentStatus(state.consent[key], model.consent.doubleOptIn.includes(key));
      return { matches: effective.status === rule.status };
    }
    case 'inSegment':
      // A segment that is not (or no longer) defined has no members.
      return context.segments?.get(rule.segment) ?? { matches: false };
    case 'eventProperty':
      return compare(rule.test, valueAt(context.event?.properties, rule.property), now);
  }
}

/** The earliest moment the rule's answer can change without a new event; undefined if only an event can change it. */
export function nextChange(rule: Rule, context: RuleContext): number | undefined {
  return evaluateRule(rule, context).changesAt;
}

/** A trait by name, or a dotted path into one: `address.country`. */
function traitValue(state: ProfileState, path: string): unknown {
  const direct = state.traits[path];
  if (direct !== undefined) return direct.value;
  const [head, ...rest] = path.split('.');
  const root = state.traits[head];
  return root === undefined || rest.length === 0 ? undefined : valueAt(root.value, rest.join('.'));
}

function count(selector: EventSelector, within: number | undefined, context: RuleContext, needed: number): { value: number; changesAt?: number } {
  const spec = seriesSpec(context.model, selector);
  const series = context.state.series[spec.key];
  if (within === undefined) return { value: series?.count ?? 0 };
  return countWithin(series, spec, within, context.now, needed);
}

function seriesSpec(model: ProfileModel, selector: EventSelector) {
  const spec = model.series[seriesKey(selector)];
  // The model decides what the state keeps; a rule it was not built from cannot be answered from the state.
  if (spec === undefined) throw new Error(`the profile model does not track ${seriesKey(selector)}: build it from the same segments`);
  return spec;
}

/**
 * A decaying score only falls (until a new event): it crosses a positive numeric bound b at
 * now + halfLife * log2(value / b). Rounded down, so the timer is never late.
 */
function decayCrossing(test: Comparison, value: number, halfLife: number, now: number): number | undefined {
  if (test.op !== 'atLeast' && test.op !== 'greaterThan' && test.op !== 'lessThan' && test.op !== 'atMost') return undefined;
  const bound = Number(test.value);
  // A decaying score moves toward 0 and passes the bound only if the bound lies between it and 0, or on it (at the
  // bound, "at least" turns false a millisecond later): then value / bound >= 1, for negative scores too.
  if (!Number.isFinite(bound) || bound === 0 || !(value / bound >= 1)) return undefined;
  return Math.max(now + 1, Math.floor(now + halfLife * Math.log2(value / bound)));
}

/** The earlier of two moments, either of which may be absent. */
function sooner(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined ? a : Math.min(a, b);
}
