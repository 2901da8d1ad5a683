import { JourneyBody, SegmentBody } from '@kairos/definitions';
import { CompiledSegment, ProfileModel, ProfileModelOptions, buildModelFromRules, compileSegments } from '@kairos/segmentation';
import { CompiledJourney, compileJourney } from './compiled-journey';
import { DEFAULT_GUARD_RAILS, GuardRailPolicy, Purpose } from './guard-rails';

/** Everything the stepping function reads besides a profile's state: one definitions release, compiled. */
export interface JourneyCatalogue {
  /** The journeys in force (their latest version), in id order. */
  readonly journeys: readonly CompiledJourney[];
  /** A journey in force by id; undefined once it was removed. */
  current(journeyId: string): CompiledJourney | undefined;
  /** The version an instance started with (older versions too, as long as they are known). */
  version(journeyId: string, version: number): CompiledJourney | undefined;
  /** Tracks every series the segments and the journeys' rules ask about. */
  readonly model: ProfileModel;
  /** The segments of the same release (the simulator evaluates them; the service reads segmentation's verdicts). */
  readonly segments: readonly CompiledSegment[];
  readonly policy: GuardRailPolicy;
  templatePurpose(templateId: string): Purpose | undefined;
}

export interface CatalogueSource {
  journeys: ReadonlyArray<{ version: number; body: JourneyBody; status?: 'active' | 'paused' }>;
  /** Versions no longer in force that running instances may still need. */
  previousJourneys?: ReadonlyArray<{ version: number; body: JourneyBody }>;
  segments: ReadonlyArray<{ version: number; body: SegmentBody }>;
  templates?: ReadonlyArray<{ id: string; purpose: Purpose }>;
  policy?: GuardRailPolicy;
  modelOptions?: ProfileModelOptions;
}

const versionKey = (id: string, version: number): string => `${id}@${version}`;

export function buildCatalogue(source: CatalogueSource): JourneyCatalogue {
  const journeys = source.journeys.map((entry) => compileJourney(entry.body, entry.version, entry.status ?? 'active')).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byId = new Map(journeys.map((journey) => [journey.id, journey]));
  const versions = new Map<string, CompiledJourney>();
  for (const previous of source.previousJourneys ?? []) versions.set(versionKey(previous.body.id, previous.version), compileJourney(previous.body, previous.version));
  for (const journey of journeys) versions.set(versionKey(journey.id, journey.version), journey);
  const segments = compileSegments(source.segments);
  const model = buildModelFromRules([...segments.map((segment) => segment.rule), ...[...versions.values()].flatMap((journey) => journey.rules)], source.modelOptions);
  const purposes = new Map((source.templates ?? []).map((template) => [template.id, template.purpose]));
  return {
    journeys,
    current: (journeyId) => byId.get(journeyId),
    version: (journeyId, version) => versions.get(versionKey(journeyId, version)),
    model,
    segments,
    policy: source.policy ?? DEFAULT_GUARD_RAILS,
    templatePurpose: (templateId) => purposes.get(templateId),
  };
}
