import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { KAFKA_VERSION } from '@kairos/local-stack';

/** Writes reports/<name>.json with the machine it ran on, and says where. */
export function writeReport(name: string, figures: object): void {
  const report = {
    benchmark: name,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, kafka: KAFKA_VERSION },
    ...figures,
  };
  mkdirSync('reports', { recursive: true });
  const file = join('reports', `bench-${name}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${file}`);
}

export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
