import { JourneyBody, parseDuration, Sender } from '@kairos/definitions';
import { PropertyFilter, Rule, parseComparison, parseRule } from '@kairos/segmentation';
import { parseTimeOfDay } from './local-time';
import { SplitWinnerRule } from './split-winner';

export type EntryTrigger =
  | { kind: 'event'; event: string; where: PropertyFilter[]; unlessFollowedBy?: { event: string; match?: string; within: number } }
  /** includeBackfill: also when a new or changed segment definition moved the profile (cause backfill), not only its own activity. */
  | { kind: 'segment'; segment: string; on: 'enter' | 'exit'; includeBackfill: boolean }
  | { kind: 'inactivity'; inactiveFor: number }
  | { kind: 'recurring'; date: string; every: 'year' | 'month'; offset: number; at: { hour: number; minute: number } }
  | { kind: 'threshold'; rule: Rule };

/** One step, addressed by its path in the definition (`1/onTimeout/0`); `next` is where the journey goes after it. */
export type StepNode = { id: string; label?: string } & (
  | { kind: 'send'; template: string; next: string }
  | { kind: 'wait'; wait: { ms: number } | { untilTime: { hour: number; minute: number } } | { untilDate: string; offset: number }; next: string }
  | { kind: 'waitForEvent'; event: string; match?: string; where: PropertyFilter[]; timeout: number; onEvent: string; onTimeout: string }
  | { kind: 'branch'; rule: Rule; then: string; else: string }
  | { kind: 'split'; variants: Array<{ name: string; weight: number; first: string }>; control: number; winner?: SplitWinnerRule; next: string }
  | { kind: 'updateProfile'; set: Record<string, unknown>; next: string }
  | { kind: 'webhook'; url: string; secret: string; next: string }
  | { kind: 'exit'; reason: string }
);

/** Where a journey goes when no step is left. */
export const END = '$end';

export interface CompiledJourney {
  id: string;
  version: number;
  name?: string;
  /** A paused journey takes no new entries; its running instances go on. */
  status: 'active' | 'paused';
  trigger: EntryTrigger;
  onlyIf?: Rule;
  /** A readable account of the trigger, for the `reason` of what it sends. */
  describe: string;
  reentry: { allow: 'once' | 'oncePer' | 'always'; period?: number; activeInstances: 'onePerProfile' | 'onePerKey' | 'unlimited'; key?: string };
  whenCapped: 'skip' | 'defer';
  /** Overrides the templates' From, Reply-To and sending domain for this journey's mail. */
  sender?: Sender;
  goal?: { event: string; where: PropertyFilter[]; within: number; value?: string };
  exitWhen?: Rule;
  first: string;
  steps: Record<string, StepNode>;
  /** Every rule the journey evaluates: the profile model must track their series. */
  rules: Rule[];
}

/** Why a journey body cannot be compiled; definitions arrive schema-checked, so this is a record another tool wrote. */
export class JourneyCompileError extends Error {
  constructor(journeyId: string, message: string) {
    super(`journey ${journeyId}: ${message}`);
    this.name = 'JourneyCompileError';
  }
}

function duration(journeyId: string, text: unknown, what: string): number {
  const ms = typeof text === 'string' ? parseDuration(text) : undefined;
  if (ms === undefined) throw new JourneyCompileError(journeyId, `${what}: not a duration: ${JSON.stringify(text)}`);
  return ms;
}

/** "-30d", "+1d", "2h" -> signed milliseconds. */
export function signedDuration(journeyId: string, text: unknown, what: string): number {
  if (text === undefined) return 0;
  if (typeof text !== 'string') throw new JourneyCompileError(journeyId, `${what}: not an offset: ${JSON.stringify(text)}`);
  const sign = text.startsWith('-') ? -1 : 1;
  return sign * duration(journeyId, text.replace(/^[-+]/, ''), what);
}

export function parseFilters(where: unknown): PropertyFilter[] {
  if (!Array.isArray(where)) return [];
  return where.map((item: Record<string, unknown>) => ({ property: String(item.property), test: parseComparison(item) }));
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function parseTrigger(journeyId: string, trigger: Record<string, unknown>): { trigger: EntryTrigger; describe: string } {
  if (typeof trigger.event === 'string') {
    const unless = trigger.unlessFollowedBy === undefined ? undefined : record(trigger.unlessFollowedBy);
    const unlessFollowedBy = unless && { event: String(unless.event), match: typeof unless.match === 'string' ? unless.match : undefined, within: duration(journeyId, unless.within, 'unlessFollowedBy.within') };
    const describe = unlessFollowedBy
      ? `${trigger.event} not followed by ${unlessFollowedBy.event}${unlessFollowedBy.match ? ` with the same ${unlessFollowedBy.match}` : ''} within ${unless?.within}`
      : `event ${trigger.event}`;
    return { trigger: { kind: 'event', event: trigger.event, where: parseFilters(trigger.where), unlessFollowedBy }, describe };
  }
  if (typeof trigger.segment === 'string') {
    const on = trigger.on === 'exit' ? 'exit' : 'enter';
    const includeBackfill = trigger.includeBackfill === true;
    return {
      trigger: { kind: 'segment', segment: trigger.segment, on, includeBackfill },
      describe: `${on === 'enter' ? 'entered' : 'left'} segment ${trigger.segment}${includeBackfill ? ' (backfill included)' : ''}`,
    };
  }
  if (trigger.inactiveFor !== undefined) {
    return { trigger: { kind: 'inactivity', inactiveFor: duration(journeyId, trigger.inactiveFor, 'inactiveFor') }, describe: `inactive for ${trigger.inactiveFor}` };
  }
  if (trigger.recurring !== undefined) {
    const recurring = record(trigger.recurring);
    const every = recurring.every === 'month' ? 'month' : 'year';
    const at = typeof recurring.at === 'string' ? parseTimeOfDay(recurring.at) : { hour: 9, minute: 0 };
    const offset = signedDuration(journeyId, recurring.offset, 'recurring.offset');
    const date = String(recurring.date);
    return {
      trigger: { kind: 'recurring', date, every, offset, at },
      describe: `${date}${recurring.offset ? ` ${recurring.offset}` : ''}, every ${every}, at ${typeof recurring.at === 'string' ? recurring.at : '09:00'} local time`,
    };
  }
  if (trigger.threshold !== undefined) {
    return { trigger: { kind: 'threshold', rule: parseRule(record(trigger.threshold)) }, describe: `threshold crossed: ${JSON.stringify(trigger.threshold)}` };
  }
  throw new JourneyCompileError(journeyId, `a trigger needs event, segment, inactiveFor, recurring or threshold: ${JSON.stringify(trigger)}`);
}

/** Flattens the step tree into nodes addressed by path; each node knows where the journey goes after it. */
function compileSteps(journeyId: string, list: unknown, path: string, after: string, steps: Record<string, StepNode>, rules: Rule[]): string {
  const items = Array.isArray(list) ? (list as Array<Record<string, unknown>>) : [];
  if (items.length === 0) return after;
  const ids = items.map((_, index) => (path === '' ? String(index) : `${path}/${index}`));
  items.forEach((step, index) => {
    const id = ids[index];
    const next = index + 1 < items.length ? ids[index + 1] : after;
    const label = typeof step.label === 'string' ? step.label : undefined;
    const base = label === undefined ? { id } : { id, label };
    if (typeof step.send === 'string') steps[id] = { ...base, kind: 'send', template: step.send, next };
    else if (step.wait !== undefined) {
      if (typeof step.wait === 'string') steps[id] = { ...base, kind: 'wait', wait: { ms: duration(journeyId, step.wait, `${id} wait`) }, next };
      else {
        const wait = record(step.wait);
        if (typeof wait.untilTime === 'string') steps[id] = { ...base, kind: 'wait', wait: { untilTime: parseTimeOfDay(wait.untilTime) }, next };
        else if (typeof wait.untilDate === 'string') steps[id] = { ...base, kind: 'wait', wait: { untilDate: wait.untilDate, offset: signedDuration(journeyId, wait.offset, `${id} wait.offset`) }, next };
        else throw new JourneyCompileError(journeyId, `${id}: a wait needs a duration, untilTime or untilDate`);
      }
    } else if (step.waitForEvent !== undefined) {
      const wait = record(step.waitForEvent);
      steps[id] = {
        ...base,
        kind: 'waitForEvent',
        event: String(wait.event),
        match: typeof wait.match === 'string' ? wait.match : undefined,
        where: parseFilters(wait.where),
        timeout: duration(journeyId, wait.timeout, `${id} timeout`),
        // No onEvent steps: the journey ends when the awaited event comes.
        onEvent: compileSteps(journeyId, wait.onEvent, `${id}/onEvent`, END, steps, rules),
        onTimeout: compileSteps(journeyId, wait.onTimeout, `${id}/onTimeout`, next, steps, rules),
      };
    } else if (step.branch !== undefined) {
      const branch = record(step.branch);
      const rule = parseRule(record(branch.if));
      rules.push(rule);
      steps[id] = { ...base, kind: 'branch', rule, then: compileSteps(journeyId, branch.then, `${id}/then`, next, steps, rules), else: compileSteps(journeyId, branch.else, `${id}/else`, next, steps, rules) };
    } else if (step.split !== undefined) {
      const split = record(step.split);
      const variants = (Array.isArray(split.variants) ? (split.variants as Array<Record<string, unknown>>) : []).map((variant, v) => ({
        name: String(variant.name),
        weight: Number(variant.weight),
        first: compileSteps(journeyId, variant.steps, `${id}/${v}`, next, steps, rules),
      }));
      if (variants.length === 0 || variants.some((variant) => !(variant.weight > 0))) throw new JourneyCompileError(journeyId, `${id}: a split needs variants with positive weights`);
      const winner = split.winner === undefined ? undefined : record(split.winner);
      steps[id] = {
        ...base,
        kind: 'split',
        variants,
        control: typeof split.control === 'number' && split.control > 0 ? split.control : 0,
        ...(winner ? { winner: { confidence: Number(winner.confidence), minimumPerVariant: Number(winner.minimumPerVariant) } } : {}),
        next,
      };
    } else if (step.updateProfile !== undefined) steps[id] = { ...base, kind: 'updateProfile', set: record(record(step.updateProfile).set), next };
    else if (step.webhook !== undefined) {
      const webhook = record(step.webhook);
      steps[id] = { ...base, kind: 'webhook', url: String(webhook.url), secret: String(webhook.secret), next };
    } else if (typeof step.exit === 'string') steps[id] = { ...base, kind: 'exit', reason: step.exit };
    else throw new JourneyCompileError(journeyId, `${id}: not a step: ${JSON.stringify(step)}`);
  });
  return ids[0];
}

/** A journey definition (schema-checked) to what the stepping function runs. */
export function compileJourney(body: JourneyBody, version: number, status: 'active' | 'paused' = 'active'): CompiledJourney {
  const { trigger, describe } = parseTrigger(body.id, body.trigger);
  const rules: Rule[] = [];
  const onlyIf = body.trigger.onlyIf === undefined ? undefined : parseRule(record(body.trigger.onlyIf));
  const exitWhen = body.exitWhen === undefined ? undefined : parseRule(body.exitWhen);
  for (const rule of [onlyIf, exitWhen, trigger.kind === 'threshold' ? trigger.rule : undefined]) if (rule !== undefined) rules.push(rule);
  const steps: Record<string, StepNode> = {};
  const first = compileSteps(body.id, body.steps, '', END, steps, rules);
  const splits = Object.values(steps).filter((node) => node.kind === 'split');
  if (splits.some((node) => node.winner) && (splits.length > 1 || body.goal === undefined)) throw new JourneyCompileError(body.id, "a split with a winner needs the journey's goal and must be its only split");
  const reentry = body.reentry ?? { allow: 'once' };
  const activeInstances = reentry.activeInstances === 'onePerKey' || reentry.activeInstances === 'unlimited' ? reentry.activeInstances : 'onePerProfile';
  if (activeInstances === 'onePerKey' && reentry.key === undefined) throw new JourneyCompileError(body.id, 'reentry.activeInstances onePerKey needs reentry.key');
  if (reentry.allow === 'oncePer' && reentry.period === undefined) throw new JourneyCompileError(body.id, 'reentry.allow oncePer needs reentry.period');
  return {
    id: body.id,
    version,
    name: body.name,
    status,
    trigger,
    onlyIf,
    describe,
    reentry: {
      allow: reentry.allow,
      period: reentry.period === undefined ? undefined : duration(body.id, reentry.period, 'reentry.period'),
      activeInstances,
      key: reentry.key,
    },
    whenCapped: body.whenCapped ?? 'skip',
    ...(body.sender && Object.keys(body.sender).length > 0 ? { sender: { ...body.sender } } : {}),
    goal: body.goal && {
      event: body.goal.event,
      where: parseFilters((body.goal as { where?: unknown }).where),
      within: duration(body.id, body.goal.within, 'goal.within'),
      value: body.goal.value,
    },
    exitWhen,
    first,
    steps,
    rules,
  };
}
