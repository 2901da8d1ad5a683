import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { JourneyBody, ProfileModelBody, SegmentBody, TemplateBody, formatDefinitionError, validateDefinitions } from '@kairos/definitions';
import { profileModelOptions } from '@kairos/segmentation';
import { readDefinitionsFolder } from '@kairos/definitions-topic';
import { BacktestReport, SimulationInputError, TimelineEntry, buildCatalogue, parseEventsFile, simulate } from '@kairos/journeys';

export class SimulateUsageError extends Error {}

export interface SimulateOptions {
  journey: string;
  eventsFile: string;
  directory: string;
  until?: number;
  /** backtest: the report only (and progress on stderr), for a recorded export. */
  reportOnly: boolean;
  json: boolean;
  print(text: string): void;
  progress(text: string): void;
}

/**
 * `kairos simulate <journey> <events>` and `kairos backtest <journey> <export>`: one journey (with every segment of
 * its folder and the templates' purposes) run over events on a virtual clock. No Kafka, no database, no e-mail.
 */
export function runSimulation(options: SimulateOptions): number {
  let files;
  try {
    files = readDefinitionsFolder(options.directory);
  } catch (error) {
    throw new SimulateUsageError(`cannot read ${options.directory}: ${(error as Error).message}`);
  }
  const report = validateDefinitions(files);
  if (report.errors.length > 0) {
    for (const error of report.errors) options.print(formatDefinitionError(error));
    options.print(`${options.directory}: ${report.errors.length} definition errors; fix them before simulating`);
    return 1;
  }
  const id = options.journey.replace(/^journey\//, '');
  const journey = report.definitions.find((definition) => definition.kind === 'journey' && definition.id === id);
  if (!journey) {
    const known = report.definitions.filter((definition) => definition.kind === 'journey').map((definition) => definition.id);
    throw new SimulateUsageError(`no journey "${id}" in ${options.directory} (there: ${known.join(', ')})`);
  }
  let text: string;
  try {
    text = readFileSync(resolve(options.eventsFile), 'utf8');
  } catch (error) {
    throw new SimulateUsageError(`cannot read ${options.eventsFile}: ${(error as Error).message}`);
  }
  let events;
  try {
    events = parseEventsFile(text);
  } catch (error) {
    if (error instanceof SimulationInputError) throw new SimulateUsageError(`${options.eventsFile}: ${error.message}`);
    throw error;
  }
  const catalogue = buildCatalogue({
    journeys: [{ version: 1, body: journey.body as JourneyBody }],
    segments: report.definitions.filter((definition) => definition.kind === 'segment').map((definition) => ({ version: 1, body: definition.body as SegmentBody })),
    templates: report.definitions.filter((definition) => definition.kind === 'template').map((definition) => ({ id: definition.id, purpose: (definition.body as TemplateBody).purpose })),
    modelOptions: profileModelOptions(report.definitions.find((definition) => definition.kind === 'profile-model')?.body as ProfileModelBody | undefined),
  });
  const started = performance.now();
  let seen = 0;
  const result = simulate(events, catalogue, {
    until: options.until,
    onEntry: (entry) => {
      if (entry.kind === 'event' && ++seen % 50_000 === 0) options.progress(`${seen} of ${events.length} events…`);
    },
  });
  const elapsedMs = performance.now() - started;
  if (options.json) {
    options.print(JSON.stringify({ journey: id, elapsedMs: Math.round(elapsedMs), report: result.report, timeline: options.reportOnly ? undefined : result.timeline.map(({ effect: _effect, ...entry }) => ({ ...entry, at: new Date(entry.at).toISOString() })) }, null, 2));
    return 0;
  }
  if (!options.reportOnly) for (const entry of result.timeline) options.print(line(entry));
  options.print(summary(result.report, elapsedMs));
  return 0;
}

function line(entry: TimelineEntry): string {
  const marker = entry.kind === 'dispatch' ? '>>' : entry.kind === 'outcome' ? ' *' : entry.kind === 'note' ? '  ' : entry.kind === 'segment' ? ' ~' : ' <';
  return `${new Date(entry.at).toISOString()} ${marker} ${entry.profileId}${entry.journeyId ? ` [${entry.journeyId}]` : ''} ${entry.text}`;
}

function summary(report: BacktestReport, elapsedMs: number): string {
  const lines = [`\n${report.events} events of ${report.profiles} profiles${report.from ? ` from ${report.from} to ${report.to}` : ''}, simulated in ${elapsedMs.toFixed(0)} ms`];
  for (const [journeyId, entry] of Object.entries(report.journeys)) {
    const sends = Object.entries(entry.sends).map(([template, n]) => `${template} ${n}`).join(', ') || 'none';
    lines.push(
      `${journeyId}: ${entry.entries} entries; sends: ${sends}${entry.webhooks ? `; webhooks ${entry.webhooks}` : ''}; capped ${entry.capped}; deferred ${entry.deferred}; no consent ${entry.suppressedByConsent}; goals ${entry.goals} (value ${entry.goalValue})`,
    );
    if (Object.keys(entry.variants).length > 0) lines.push(`  variants: ${Object.entries(entry.variants).map(([name, n]) => `${name} ${n}`).join(', ')}`);
    if (entry.splitTest) lines.push(`  A/B test: ${splitTestLine(entry.splitTest)}`);
    if (Object.keys(entry.exits).length > 0) lines.push(`  exits: ${Object.entries(entry.exits).map(([reason, n]) => `${reason} ${n}`).join(', ')}`);
  }
  if (Object.keys(report.journeys).length === 0) lines.push('the journey did not start for anyone');
  return lines.join('\n');
}

/** A split's automatic-winner test as the backtest ends: converted of counted per variant, and what the test says. */
function splitTestLine(test: NonNullable<BacktestReport['journeys'][string]['splitTest']>): string {
  const counts = Object.entries(test.tally).map(([variant, { conversions, recipients }]) => `${variant} ${conversions}/${recipients} converted`).join(', ');
  const { decision } = test;
  const verdict = decision === undefined ? 'not decided yet (a variant lacks its sample)' : decision.winner === undefined ? `no winner (p = ${decision.pValue.toPrecision(2)})` : `winner ${decision.winner} (p = ${decision.pValue.toPrecision(2)})`;
  return `${counts}; ${verdict}`;
}
