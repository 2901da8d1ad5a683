import { JourneyBody, SegmentBody } from '@kairos/definitions';
import { CompiledSegment, ProfileModel, ProfileModelOptions, buildModelFromRules, compileSegments } from '@kairos/segmentation';
import { CompiledJourney, compileJourney } from './compiled-journey';
import { DEFAULT_GUARD_RAILS, GuardRailPolicy, Purpose } from './guard-rails';
import { SplitWinner } from './split-winner';

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
  /** The decided winner of a split with a winner rule (journey version and step), once there is one. */
  splitWinner(journeyId: string, version: number, stepId: string): SplitWinner | undefined;
  /** Journeys that could not be compiled, and why: left out, so one bad record does not stop the others. */
  readonly problems: readonly string[];
}

export interface CatalogueSource {
  journeys: ReadonlyArray<{ version: number; body: JourneyBody; status?: 'active' | 'paused' }>;
  /** Versions no longer in force that running instances may still need. */
  previousJourneys?: ReadonlyArray<{ version: number; body: JourneyBody }>;
  segments: ReadonlyArray<{ version: number; body: SegmentBody }>;
  templates?: ReadonlyArray<{ id: string; purpose: Purpose }>;
  policy?: GuardRailPolicy;
  modelOptions?: ProfileModelOptions;
  /** Decided splits, looked up when a split runs: decisions arrive between definitions releases. */
  splitWinners?: (journeyId: string, version: number, stepId: string) => SplitWinner | undefined;
}

const versionKey = (id: string, version: number): string => `${id}@${version}`;

export function buildCatalogue(source: CatalogueSource): JourneyCatalogue {
  const problems: string[] = [];
  const compile = (body: JourneyBody, version: number, status: 'active' | 'paused' = 'active'): CompiledJourney[] => {
    try {
      return [compileJourney(body, version, status)];
    } catch (error) {
      problems.push(`${body.id} v${version}: ${(error as Error).message}`);
      return [];
    }
  };
  const journeys = source.journeys.flatMap((entry) => compile(entry.body, entry.version, entry.status)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byId = new Map(journeys.map((journey) => [journey.id, journey]));
  const versions = new Map<string, CompiledJourney>();
  for (const previous of source.previousJourneys ?? []) for (const journey of compile(previous.body, previous.version)) versions.set(versionKey(journey.id, journey.version), journey);
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
    splitWinner: source.splitWinners ?? (() => undefined),
    problems,
  };
}
