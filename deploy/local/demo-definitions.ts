import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, parseDocument, visit } from 'yaml';
import { parseDuration } from '@kairos/definitions';

const DAY_MS = 86_400_000;

/** Where the demo's clock times are read: the audience lives in Zurich, Berlin and Vienna (one offset). */
const DEMO_TIME_ZONE = 'Europe/Zurich';
/** A recurring occurrence (the birthday) comes this long after the demo starts, for the shoppers known by then. */
const RECURRING_AFTER_MS = 120_000;

/**
 * The example definitions on the demo's clock, so a demo shows in minutes what takes days: a copy of `source` in
 * `target` where each duration scalar (`4h`, `14d`, `90d` …) is scaled so one day lasts `secondsPerDay`. Clock times
 * cannot be scaled: a recurring trigger's `at` becomes the local time two minutes after `startsAt` (so the shoppers
 * known by then, whose birthday is today, get their birthday mail during the demo), and a wait `untilTime` becomes a
 * wait of half a demo day. The copy is plain files a user can read and publish. Returns what changed, e.g.
 * "abandoned-cart.yaml: 4h -> 3s", for the start-up log.
 */
export function writeDemoDefinitions(source: string, target: string, secondsPerDay: number, startsAt = new Date()): string[] {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  cpSync(source, target, { recursive: true });
  const changed: string[] = [];
  for (const file of yamlFiles(target)) {
    const document = parseDocument(readFileSync(file, 'utf8'));
    visit(document, {
      Scalar(_key, node) {
        if (!isScalar(node) || typeof node.value !== 'string') return;
        const ms = parseDuration(node.value);
        if (ms === undefined) return;
        const scaled = formatSeconds(Math.max(1, Math.round((ms / DAY_MS) * secondsPerDay)));
        changed.push(`${file.slice(target.length + 1)}: ${node.value} -> ${scaled}`);
        node.value = scaled;
      },
    });
    // After the durations, so the waits written here are not scaled again.
    visit(document, {
      Pair(_key, pair) {
        if (!isScalar(pair.key) || !isMap(pair.value)) return;
        if (pair.key.value === 'recurring') {
          const at = localTime(new Date(startsAt.getTime() + RECURRING_AFTER_MS));
          changed.push(`${file.slice(target.length + 1)}: at ${String(pair.value.get('at') ?? '09:00')} -> ${at}`);
          pair.value.set('at', at);
        } else if (pair.key.value === 'wait' && pair.value.has('untilTime')) {
          const wait = formatSeconds(Math.max(1, Math.round(secondsPerDay / 2)));
          changed.push(`${file.slice(target.length + 1)}: wait until ${String(pair.value.get('untilTime'))} -> ${wait}`);
          pair.value = document.createNode(wait);
        }
      },
    });
    writeFileSync(file, `# Generated for the demo from the example definitions: one day lasts ${secondsPerDay} s.\n${document.toString()}`);
  }
  return changed;
}

/** HH:MM in the demo's time zone, rounded up to the next minute. */
function localTime(at: Date): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: DEMO_TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(Math.ceil(at.getTime() / 60_000) * 60_000));
  const part = (type: string) => parts.find((entry) => entry.type === type)?.value ?? '00';
  return `${part('hour')}:${part('minute')}`;
}

function formatSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

function yamlFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}
