import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Condition, DefinitionSet, ProfileModelBody, SegmentBody } from '@kairos/definitions';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { buildModelFromRules, CompiledSegment, compileSegments, parseRule, ProfileModel, profileModelOptions } from '@kairos/segmentation';

/** The segments of one definitions release, compiled, with the profile model built from the same set. */
export interface SegmentRelease {
  segments: readonly CompiledSegment[];
  model: ProfileModel;
  /** The version of the profile-model definition the model was built with; 0: none, the defaults. */
  modelVersion: number;
  /** Names the segment versions and the model's of the release: a profile evaluated under it needs no backfill to it. */
  fingerprint: string;
}

/**
 * The segments in force, from the definitions the runtime follows. Compiled once per applied release (the follower
 * gives a new immutable set each time), so the rules and the model always come from the same release: a rule whose
 * series the model does not track would throw.
 */
@Injectable()
export class SegmentsInForce {
  private compiledFrom: DefinitionSet | undefined;
  private compiled: SegmentRelease | undefined;

  constructor(@Inject(DefinitionsFollower) private readonly definitions: DefinitionsFollower) {}

  current(): SegmentRelease {
    const set = this.definitions.current();
    if (this.compiled && this.compiledFrom === set) return this.compiled;
    const definitions = set
      .all()
      .filter((live) => live.definition.kind === 'segment')
      .map((live) => ({ version: live.record.version, body: live.definition.body as SegmentBody }));
    // The model is built from the rules just compiled, so both come from one parse of the same release.
    const segments = compileSegments(definitions);
    const versions = segments.map((segment) => `${segment.id}@${segment.version}`).sort();
    // Journeys decide on the state this stage keeps (onlyIf, threshold, branch and exit conditions): the series their
    // rules read are tracked too, or they would read as zero.
    const journeyRules = set
      .all()
      .filter((live) => live.definition.kind === 'journey')
      .flatMap((live) => conditionsIn(live.definition.body))
      .map((condition) => parseRule(condition));
    // The profile model's thresholds and double opt-in are read when segments are evaluated: a new model version is
    // a change of every segment, backfilled like one.
    const profileModel = set.all().find((live) => live.definition.kind === 'profile-model');
    const modelVersion = profileModel?.record.version ?? 0;
    const model = buildModelFromRules([...segments.map((segment) => segment.rule), ...journeyRules], profileModelOptions(profileModel?.definition.body as ProfileModelBody | undefined));
    if (modelVersion > 0) versions.push(`${PROFILE_MODEL_KEY}@${modelVersion}`);
    this.compiled = { segments, model, modelVersion, fingerprint: createHash('sha1').update(versions.join('\n')).digest('base64url').slice(0, 16) };
    this.compiledFrom = set;
    return this.compiled;
  }
}

/** The profile model's place among the versions a backfill records as done (a segment id cannot start with #). */
export const PROFILE_MODEL_KEY = '#profile-model';

/** Keys under which a journey holds a condition in the segment rule language. */
const CONDITION_KEYS = new Set(['onlyIf', 'threshold', 'exitWhen', 'if']);

/** Every condition of a journey body, wherever its steps nest them (branches, splits, waits for events). */
export function conditionsIn(value: unknown): Condition[] {
  if (Array.isArray(value)) return value.flatMap((item) => conditionsIn(item));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => (CONDITION_KEYS.has(key) && child !== null && typeof child === 'object' ? [child as Condition] : conditionsIn(child)));
}
