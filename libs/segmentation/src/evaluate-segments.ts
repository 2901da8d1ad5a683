import type { ProfileSnapshotRecord, SegmentChangeCause } from '@kairos/contracts';
import { SegmentBody } from '@kairos/definitions';
import { Verdict } from './comparison';
import { evaluateRule } from './evaluate-rule';
import { ProfileModel } from './profile-model';
import { ProfileState } from './profile-state';
import { Rule, parseRule } from './rule';

export interface CompiledSegment {
  id: string;
  version: number;
  rule: Rule;
}

/** Segment id -> the version the profile entered under and when (as the snapshot record carries them). */
export type Memberships = ProfileSnapshotRecord['segments'];

/** What made the profile's memberships be evaluated: the service records it with each change. */
export type ChangeCause = SegmentChangeCause;

export interface SegmentChange {
  profileId: string;
  segmentId: string;
  version: number;
  change: 'enter' | 'exit';
  /** The moment the change happened: the event time or the timer's due time (the `now` evaluated at). */
  at: number;
  cause: ChangeCause;
}

export interface SegmentEvaluation {
  memberships: Memberships;
  changes: SegmentChange[];
  /** When to evaluate again without a new event (one durable timer per profile); undefined: only on the next event. */
  nextChangeAt?: number;
}

/**
 * Parses segment definitions and orders them so that every segment comes after the segments it names with
 * inSegment. Definitions are validated against cycles before they go live; a cycle here is still refused.
 */
export function compileSegments(definitions: ReadonlyArray<{ version: number; body: SegmentBody }>): CompiledSegment[] {
  const byId = new Map(definitions.map((d) => [d.body.id, { id: d.body.id, version: d.version, rule: parseRule(d.body.rule) }]));
  const ordered: CompiledSegment[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    const segment = byId.get(id);
    if (segment === undefined || state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`segments contain themselves: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const dependency of segmentReferences(segment.rule)) visit(dependency, [...path, id]);
    state.set(id, 'done');
    ordered.push(segment);
  };
  [...byId.keys()].sort().forEach((id) => visit(id, []));
  return ordered;
}

const idsOf = new WeakMap<readonly CompiledSegment[], ReadonlySet<string>>();

/** The ids of a compiled set, built once per set (a release's set is immutable and evaluated for every input). */
function definedIds(segments: readonly CompiledSegment[]): ReadonlySet<string> {
  let ids = idsOf.get(segments);
  if (ids === undefined) idsOf.set(segments, (ids = new Set(segments.map((segment) => segment.id))));
  return ids;
}

export function segmentReferences(rule: Rule): string[] {
  if (rule.kind === 'inSegment') return [rule.segment];
  if (rule.kind === 'all' || rule.kind === 'any') return rule.rules.flatMap(segmentReferences);
  if (rule.kind === 'not') return segmentReferences(rule.rule);
  return [];
}

/**
 * Every segment for one profile at `now` (in the order compileSegments gives): the memberships after, the enter
 * and exit changes against the memberships before, and the next moment any answer can change without an event.
 * A member of a segment that is no longer defined exits it. Backfill is the same call with cause backfill.
 */
export function evaluateSegments(
  previous: Memberships,
  state: ProfileState,
  segments: readonly CompiledSegment[],
  model: ProfileModel,
  now: number,
  cause: ChangeCause,
): SegmentEvaluation {
  const verdicts = new Map<string, Verdict>();
  const memberships: Memberships = {};
  const changes: SegmentChange[] = [];
  let nextChangeAt: number | undefined;
  const change = (segmentId: string, version: number, kind: 'enter' | 'exit') =>
    changes.push({ profileId: state.profileId, segmentId, version, change: kind, at: now, cause });
  const context = { state, model, now, segments: verdicts };
  for (const segment of segments) {
    const verdict = evaluateRule(segment.rule, context);
    verdicts.set(segment.id, verdict);
    if (verdict.changesAt !== undefined) nextChangeAt = Math.min(nextChangeAt ?? verdict.changesAt, verdict.changesAt);
    const before = previous[segment.id];
    if (verdict.matches) {
      // A new version of a segment the profile still matches keeps the membership; the version it entered stays.
      memberships[segment.id] = before ?? { version: segment.version, since: now };
      if (before === undefined) change(segment.id, segment.version, 'enter');
    } else if (before !== undefined) {
      change(segment.id, segment.version, 'exit');
    }
  }
  const defined = definedIds(segments);
  for (const segmentId in previous) if (!defined.has(segmentId)) change(segmentId, previous[segmentId].version, 'exit');
  return { memberships, changes, nextChangeAt };
}
