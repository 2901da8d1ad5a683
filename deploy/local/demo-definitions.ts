import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isScalar, parseDocument, visit } from 'yaml';
import { parseDuration } from '@kairos/definitions';

const DAY_MS = 86_400_000;

/**
 * The example definitions with every duration shortened, so a demo shows in minutes what takes days: a copy of
 * `source` in `target` where each duration scalar (`4h`, `14d`, `90d` …) is scaled so one day lasts `secondsPerDay`.
 * Clock times (`at: "09:00"`) and dates are left alone. The copy is plain files a user can read and publish.
 * Returns the durations changed, e.g. "abandoned-cart.yaml: 4h -> 3s", for the start-up log.
 */
export function writeDemoDefinitions(source: string, target: string, secondsPerDay: number): string[] {
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
    writeFileSync(file, `# Generated for the demo from the example definitions: one day lasts ${secondsPerDay} s.\n${document.toString()}`);
  }
  return changed;
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
