import { execFileSync } from 'node:child_process';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { kafkaVariables, loadConfig, text } from '@kairos/config';
import { Topics } from '@kairos/contracts';
import { DefinitionError, formatDefinitionError, PlannedChange, planRemoval, planStatus, Publisher, validateDefinitions } from '@kairos/definitions';
import { inconsistency, publishFolder, readDefinitionsFolder, readDefinitionsTopic, writeRelease } from '@kairos/definitions-topic';
import { connectKafka, KafkaClient } from '@kairos/kafka';
import { EXIT, USAGE } from './kairos-usage';
import { previewFromFolder } from './preview';
import { runSimulation, SimulateUsageError } from './simulate-command';

class UsageError extends Error {}

interface Output {
  json: boolean;
  print(text: string): void;
}

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((arg) => arg !== '--json');
  const out: Output = { json, print: (text) => process.stdout.write(`${text}\n`) };
  const [command, ...rest] = args;
  if (!command || command === 'help' || args.includes('--help') || args.includes('-h')) {
    out.print(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  if (command === 'preview') return preview(out, rest);
  if (command === 'simulate' || command === 'backtest') return simulateCommand(out, command, rest);
  const unknownOption = rest.find((arg) => arg.startsWith('-'));
  if (unknownOption) throw new UsageError(`unknown option ${unknownOption}`);
  switch (command) {
    case 'validate':
      return validate(out, folderOf(rest));
    case 'diff':
      return publish(out, folderOf(rest), false);
    case 'publish':
      return publish(out, folderOf(rest), true);
    case 'list':
      if (rest.length > 0) throw new UsageError('list takes no arguments');
      return list(out);
    case 'show':
      if (rest.length !== 1) throw new UsageError('show takes one kind/id, e.g. kairos show journey/abandoned-cart');
      return show(out, keyOf(rest[0]));
    case 'pause':
    case 'resume':
    case 'remove':
      if (rest.length === 0) throw new UsageError(`${command} takes one or more kind/id, e.g. kairos ${command} journey/win-back`);
      return change(out, command, rest.map(keyOf));
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function simulateCommand(out: Output, command: 'simulate' | 'backtest', rest: readonly string[]): number {
  const positional: string[] = [];
  let directory: string | undefined;
  let until: number | undefined;
  for (let index = 0; index < rest.length; index++) {
    const arg = rest[index];
    if (arg === '--dir' || arg === '--until') {
      const value = rest[++index];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      if (arg === '--dir') directory = value;
      else {
        until = Date.parse(value);
        if (Number.isNaN(until)) throw new UsageError(`--until needs an ISO 8601 time, not "${value}"`);
      }
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new UsageError(`${command} takes a journey id and an events file, e.g. kairos ${command} abandoned-cart events.json`);
  try {
    return runSimulation({
      journey: positional[0],
      eventsFile: positional[1],
      directory: resolve(directory ?? process.env['KAIROS_DEFINITIONS_DIR'] ?? 'definitions/shop'),
      until,
      reportOnly: command === 'backtest',
      json: out.json,
      print: out.print,
      progress: (text) => process.stderr.write(`${text}\n`),
    });
  } catch (error) {
    if (error instanceof SimulateUsageError) throw new UsageError(error.message);
    throw error;
  }
}

function folderOf(rest: readonly string[]): string {
  if (rest.length > 1) throw new UsageError('expected at most one folder');
  return resolve(rest[0] ?? process.env['KAIROS_DEFINITIONS_DIR'] ?? 'definitions/shop');
}

function keyOf(text: string): string {
  if (!/^(segment|journey|template|partial|profile-model)\/[a-z0-9][a-z0-9_-]*$/.test(text)) throw new UsageError(`"${text}" is not kind/id (kinds: segment, journey, template, partial, profile-model)`);
  return text;
}

function readFolder(directory: string): ReturnType<typeof validateDefinitions> {
  try {
    return validateDefinitions(readDefinitionsFolder(directory));
  } catch (error) {
    throw new UsageError(`cannot read ${directory}: ${(error as Error).message}`);
  }
}

function validate(out: Output, directory: string): number {
  const report = readFolder(directory);
  if (out.json) out.print(JSON.stringify({ valid: report.errors.length === 0, directory, definitions: report.definitions.map((definition) => definition.key), errors: report.errors }, null, 2));
  else printErrors(out, report.errors, `${directory}: ${report.definitions.length} definitions valid`);
  return report.errors.length === 0 ? EXIT.ok : EXIT.refused;
}

function printErrors(out: Output, errors: readonly DefinitionError[], success: string): void {
  if (errors.length === 0) out.print(success);
  else {
    for (const error of errors) out.print(formatDefinitionError(error));
    out.print(`${errors.length} error${errors.length === 1 ? '' : 's'}`);
  }
}

async function publish(out: Output, directory: string, write: boolean): Promise<number> {
  readFolder(directory); // an unreadable folder is a usage error, before any connection
  return withKafka(async (kafka, topicName) => {
    const result = await publishFolder(kafka, directory, publisher(directory), { write, topic: topicName });
    const plan = result.plan ?? { changes: [], unchanged: [], liveOnly: [] };
    if (out.json) {
      out.print(JSON.stringify({ published: result.releaseId !== undefined, releaseId: result.releaseId, refused: result.refused, changes: plan.changes.map(summary), unchanged: plan.unchanged, liveOnly: plan.liveOnly, errors: result.errors }, null, 2));
    } else {
      for (const change of plan.changes) out.print(describe(change));
      if (result.refused !== 'invalid-folder') out.print(`${plan.unchanged.length} unchanged${plan.liveOnly.length > 0 ? `; live but not in the folder (kept; \`kairos remove\` removes): ${plan.liveOnly.join(', ')}` : ''}`);
      if (result.errors.length > 0) printErrors(out, result.errors, '');
      else if (plan.changes.length === 0) out.print('nothing to publish');
      else out.print(result.releaseId ? `published release ${result.releaseId}: ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}` : 'not published (diff only)');
    }
    return result.refused ? EXIT.refused : EXIT.ok;
  });
}

async function change(out: Output, command: 'pause' | 'resume' | 'remove', keys: string[]): Promise<number> {
  return withKafka(async (kafka, topicName) => {
    const topic = await readDefinitionsTopic(kafka, topicName);
    const plan = command === 'remove' ? planRemoval(keys, topic) : planStatus(keys, command === 'pause' ? 'paused' : 'active', topic, publisher(), new Date());
    const refusal = plan.problems.length > 0 ? [] : inconsistency(topic, plan.changes);
    const ok = plan.problems.length === 0 && refusal.length === 0;
    const releaseId = ok && plan.changes.length > 0 ? await writeRelease(kafka, plan.changes, topicName) : undefined;
    if (out.json) out.print(JSON.stringify({ published: releaseId !== undefined, releaseId, changes: plan.changes.map(summary), problems: plan.problems, errors: refusal }, null, 2));
    else {
      for (const problem of plan.problems) out.print(problem);
      if (refusal.length > 0) printErrors(out, refusal, '');
      for (const planned of plan.changes) out.print(`${ok ? '' : 'refused: '}${describe(planned)}`);
      if (ok && plan.changes.length === 0) out.print(`nothing to ${command}`);
    }
    return ok ? EXIT.ok : EXIT.refused;
  });
}

async function list(out: Output): Promise<number> {
  return withKafka(async (kafka, topicName) => {
    const live = [...(await readDefinitionsTopic(kafka, topicName))].filter(([, entry]) => entry.record).sort(([a], [b]) => a.localeCompare(b));
    const rows = live.map(([key, entry]) => ({ key, version: entry.version, status: entry.record?.status, hash: entry.record?.hash, publishedAt: entry.record?.publishedAt, publishedBy: entry.record?.publishedBy }));
    if (out.json) out.print(JSON.stringify(rows, null, 2));
    else {
      const table = rows.map((row) => [row.key, `v${row.version}`, row.status ?? '', row.publishedAt ?? '', `${row.publishedBy?.user}@${row.publishedBy?.host}${row.publishedBy?.gitCommit ? ` ${row.publishedBy.gitCommit.slice(0, 12)}` : ''}`]);
      const widths = [0, 1, 2, 3].map((column) => Math.max(0, ...table.map((row) => row[column].length)));
      for (const row of table) out.print(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
      out.print(`${rows.length} live definitions`);
    }
    return EXIT.ok;
  });
}

async function show(out: Output, key: string): Promise<number> {
  return withKafka(async (kafka, topicName) => {
    const entry = (await readDefinitionsTopic(kafka, topicName)).get(key);
    if (!entry?.record) {
      if (out.json) out.print(JSON.stringify({ key, live: false, removedAtVersion: entry ? entry.version : undefined }));
      else out.print(entry ? `${key} was removed (version ${entry.version})` : `${key} is not live`);
      return EXIT.refused;
    }
    const record = entry.record;
    if (out.json) out.print(JSON.stringify({ key, live: true, ...record }, null, 2));
    else {
      out.print(`${key}  version ${record.version}  ${record.status}  ${record.hash}`);
      out.print(`published ${record.publishedAt} by ${record.publishedBy.user}@${record.publishedBy.host} with ${record.publishedBy.tool}${record.publishedBy.gitCommit ? ` at commit ${record.publishedBy.gitCommit}` : ''}`);
      for (const file of record.files) out.print(`\n--- ${file.path}\n${file.text.trimEnd()}`);
    }
    return EXIT.ok;
  });
}

function summary(planned: PlannedChange) {
  return { key: planned.key, action: planned.action, fromVersion: planned.fromVersion, toVersion: planned.toVersion };
}

function describe(planned: PlannedChange): string {
  const versions = planned.fromVersion === undefined ? `v${planned.toVersion}` : `v${planned.fromVersion} -> v${planned.toVersion}`;
  return `${planned.action.padEnd(6)} ${planned.key}  ${versions}`;
}

function publisher(directory?: string): Publisher {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: directory ?? process.cwd(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git(['rev-parse', 'HEAD']);
  const dirty = commit && directory ? git(['status', '--porcelain', '--', '.']) : '';
  return {
    user: process.env['KAIROS_PUBLISHER'] ?? userInfo().username,
    host: hostname(),
    tool: 'kairos-cli',
    ...(directory ? { directory } : {}),
    ...(commit ? { gitCommit: `${commit}${dirty ? '+uncommitted' : ''}` } : {}),
  };
}

/** kairos preview <template> [--profile file] [--event file] [--out file] [--dir folder] [--allow-http] [--locale l] [--time-zone z] */
function preview(out: Output, args: readonly string[]): number {
  const valued = new Map<string, string>();
  const positional: string[] = [];
  let allowHttp = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === '--allow-http') allowHttp = true;
    else if (['--profile', '--event', '--out', '--dir', '--locale', '--time-zone'].includes(arg)) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      valued.set(arg, value);
      i += 1;
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg} for preview`);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new UsageError('preview takes one template id, e.g. kairos preview cart-reminder --profile anna.json --event cart.json');
  const directory = resolve(valued.get('--dir') ?? process.env['KAIROS_DEFINITIONS_DIR'] ?? 'definitions/shop');
  let result: ReturnType<typeof previewFromFolder>;
  try {
    result = previewFromFolder({
      directory,
      templateId: positional[0],
      ...(valued.has('--profile') ? { profileFile: valued.get('--profile') } : {}),
      ...(valued.has('--event') ? { eventFile: valued.get('--event') } : {}),
      ...(valued.has('--out') ? { outFile: valued.get('--out') } : {}),
      allowHttp,
      locale: valued.get('--locale') ?? 'de-CH',
      timeZone: valued.get('--time-zone') ?? 'Europe/Zurich',
    });
  } catch (error) {
    throw new UsageError(`cannot read ${directory}: ${(error as Error).message}`);
  }
  if (!result.ok) {
    if (result.stage === 'input') throw new UsageError(result.message);
    if (out.json) out.print(JSON.stringify({ ok: false, stage: result.stage, message: result.message }, null, 2));
    else out.print(`${result.stage === 'render' ? 'render failed' : 'refused'}: ${result.message}`);
    return EXIT.refused;
  }
  if (out.json) out.print(JSON.stringify(result, null, 2));
  else {
    out.print(`Subject: ${result.subject}`);
    if (result.sampled.length > 0) out.print(`(sample values for ${result.sampled.join(', ')}; --profile and --event give real ones)`);
    out.print(`HTML:    ${result.htmlFile}`);
    if (result.text !== undefined) out.print(`\n${result.text.trimEnd()}\n`);
    for (const problem of result.problems) out.print(`html line ${problem.line}: <${problem.tag} ${problem.attribute}="${problem.url}"> ${problem.problem}`);
    out.print(result.problems.length === 0 ? `${result.links} links and images checked: all absolute, well-formed${allowHttp ? '' : ', https'}` : `${result.problems.length} link problem${result.problems.length === 1 ? '' : 's'}`);
  }
  return result.problems.length === 0 ? EXIT.ok : EXIT.refused;
}

const cliVariables = {
  ...kafkaVariables,
  KAIROS_DEFINITIONS_TOPIC: text({ description: 'The definitions topic; the catalogue one unless a test or a staging copy says otherwise', default: Topics.definitions.name }),
};

async function withKafka(run: (kafka: KafkaClient, topic: string) => Promise<number>): Promise<number> {
  const config = loadConfig(cliVariables);
  const kafka = connectKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-cli', logLevel: 'nothing' });
  return run(kafka, config.KAIROS_DEFINITIONS_TOPIC);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`kairos: ${error.message}${error instanceof UsageError ? '\n(kairos --help shows the commands)' : ''}\n`);
    process.exit(EXIT.usage);
  },
);
