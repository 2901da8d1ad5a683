import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DefinitionSet, JourneyBody, ProfileModelBody, SegmentBody, TemplateBody } from '@kairos/definitions';
import { profileModelOptions } from '@kairos/segmentation';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { buildCatalogue, GuardRailPolicy, JourneyCatalogue } from '@kairos/journeys';
import { TRIGGERS_POLICY } from './triggers.tokens';
import { JourneyVersionsRepository } from './journey-versions.repository';
import { SplitWinners } from './split-winners';

/**
 * The journeys in force, compiled once per definitions release (the follower hands out a new immutable set each
 * time), together with every older version seen: an instance keeps the version it started with. A paused journey is
 * in the catalogue with its status (no new entries); a removed one is not (its instances are cancelled).
 */
@Injectable()
export class JourneysInForce implements OnApplicationBootstrap {
  private readonly logger = new Logger('triggers');
  private compiledFrom: DefinitionSet | undefined;
  private compiled: JourneyCatalogue | undefined;
  private readonly known = new Map<string, { version: number; body: JourneyBody }>();
  private retry: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DefinitionsFollower) private readonly definitions: DefinitionsFollower,
    @Inject(JourneyVersionsRepository) private readonly versions: JourneyVersionsRepository,
    @Inject(TRIGGERS_POLICY) private readonly policy: GuardRailPolicy,
    @Inject(SplitWinners) private readonly winners: SplitWinners,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const entry of await this.versions.all()) this.remember(entry);
    // A catalogue compiled before the stored versions were read (another provider's bootstrap asked first) lacks them.
    this.compiled = undefined;
    for (const entry of this.inForce(this.definitions.current())) this.remember(entry);
    await this.versions.save([...this.known.values()]);
    this.definitions.onChange((set) => {
      // Saved as soon as seen; an instance can only start on a version the catalogue already holds.
      for (const entry of this.inForce(set)) this.remember(entry);
      void this.saveKnown();
    });
  }

  /**
   * Every version seen, saved (an insert that skips what is there) until it succeeds: a version that failed to save
   * must not wait for its journey's next change — by then it is no longer in force, and once the compacted topic has
   * dropped it, an instance running on it would find it nowhere after a restart.
   */
  private async saveKnown(): Promise<void> {
    clearTimeout(this.retry);
    try {
      await this.versions.save([...this.known.values()]);
    } catch (error) {
      this.logger.error(`journey versions not saved (kept in memory; tried again in 5 s): ${(error as Error).message}`);
      this.retry = setTimeout(() => void this.saveKnown(), 5_000).unref();
    }
  }

  current(): JourneyCatalogue {
    const set = this.definitions.current();
    if (this.compiled && this.compiledFrom === set) return this.compiled;
    const live = set.all();
    const journeys = live
      .filter((entry) => entry.definition.kind === 'journey')
      .map((entry) => ({ version: entry.record.version, body: entry.definition.body as JourneyBody, status: entry.record.status }));
    for (const journey of journeys) this.remember(journey);
    const current = new Set(journeys.map((journey) => `${journey.body.id}@${journey.version}`));
    this.compiled = buildCatalogue({
      journeys,
      previousJourneys: [...this.known.values()].filter((entry) => !current.has(`${entry.body.id}@${entry.version}`)),
      segments: live.filter((entry) => entry.definition.kind === 'segment').map((entry) => ({ version: entry.record.version, body: entry.definition.body as SegmentBody })),
      templates: live.filter((entry) => entry.definition.kind === 'template').map((entry) => ({ id: entry.definition.id, purpose: (entry.definition.body as TemplateBody).purpose })),
      policy: this.policy,
      // The same model segmentation uses: which purposes need a confirmation is read at every send.
      modelOptions: profileModelOptions(live.find((entry) => entry.definition.kind === 'profile-model')?.definition.body as ProfileModelBody | undefined),
      splitWinners: (journeyId, version, stepId) => this.winners.winner(journeyId, version, stepId),
    });
    this.compiledFrom = set;
    return this.compiled;
  }

  private inForce(set: DefinitionSet): Array<{ version: number; body: JourneyBody }> {
    return set
      .all()
      .filter((entry) => entry.definition.kind === 'journey')
      .map((entry) => ({ version: entry.record.version, body: entry.definition.body as JourneyBody }));
  }

  private remember(entry: { version: number; body: JourneyBody }): void {
    this.known.set(`${entry.body.id}@${entry.version}`, { version: entry.version, body: entry.body });
  }
}
