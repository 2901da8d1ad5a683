import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DefinitionSet, SegmentBody } from '@kairos/definitions';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { buildModelFromRules, CompiledSegment, compileSegments, ProfileModel } from '@kairos/segmentation';

/** The segments of one definitions release, compiled, with the profile model built from the same set. */
export interface SegmentRelease {
  segments: readonly CompiledSegment[];
  model: ProfileModel;
  /** Names the segment versions of the release: a profile evaluated under it needs no backfill to it. */
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
    this.compiled = { segments, model: buildModelFromRules(segments.map((segment) => segment.rule)), fingerprint: createHash('sha1').update(versions.join('\n')).digest('base64url').slice(0, 16) };
    this.compiledFrom = set;
    return this.compiled;
  }
}
