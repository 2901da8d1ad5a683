import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { deadLetterTopic } from '@kairos/contracts';
import { formatDefinitionError } from '@kairos/definitions';
import { publishFolder } from '@kairos/definitions-topic';
import { connectKafka, createCatalogueTopics } from '@kairos/kafka';
import { LocalStack, startLocalStack, StackPurpose, stopChild, waitUntilHealthy } from '@kairos/local-stack';
import { writeDemoDefinitions } from './demo-definitions';
import { startDemoTraffic } from './demo-traffic';

/**
 * The local Kairos stack.
 *   stack.ts                 Kafka + PostgreSQL + SMTP sink + the five services, no traffic (for other systems to drive)
 *   stack.ts --demo          the same plus a generated shop audience sending events
 *   stack.ts --infra-only    only Kafka (with the topic catalogue), PostgreSQL and the SMTP sink
 *   stack.ts --purpose test  free ports and throw-away data (the test harness); with --json, prints the endpoints
 *   stack.ts --control       also reads commands on stdin, one per line, for fault tests: `restart kafka <down ms>`,
 *                            `restart postgres <down ms>`; answers each with a JSON line on stdout when it is done
 * KAFKA_BROKERS, DATABASE_URL and SMTP_URL point at existing services instead of starting local ones.
 * The dev stack publishes definitions/shop (KAIROS_DEFINITIONS_DIR: another folder) before the services start.
 */

interface ServiceProcess {
  name: string;
  healthPort: number;
  publicPort?: number;
  child: ChildProcess;
}

const SERVICES = [
  { name: 'ingestion', healthPort: 9101, publicVariable: 'COLLECTOR_PORT', publicPort: 8080 },
  { name: 'identity', healthPort: 9102, publicVariable: 'IDENTITY_API_PORT', publicPort: 8081 },
  { name: 'segmentation', healthPort: 9103 },
  { name: 'triggers', healthPort: 9104 },
  { name: 'dispatch', healthPort: 9105, publicVariable: 'DISPATCH_PORT', publicPort: 8083 },
] as const;

const args = new Set(process.argv.slice(2));
const purpose: StackPurpose = process.argv.includes('--purpose') && process.argv[process.argv.indexOf('--purpose') + 1] === 'test' ? 'test' : 'dev';
const json = args.has('--json');
const say = (line: string) => (json ? process.stderr.write(`${line}\n`) : console.log(line));
const root = join(__dirname, '..', '..');

// Whoever started us may be gone (a crashed test runner) and its pipes with it; a log line must not then kill the
// stack halfway through stopping Kafka and PostgreSQL.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

async function main(): Promise<void> {
  const begun = Date.now();
  let stack: LocalStack | undefined;
  let starting: Promise<LocalStack> | undefined;
  const services: ServiceProcess[] = [];
  let stopDemo: (() => Promise<void>) | undefined;
  let stopping = false;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await stopDemo?.();
    await Promise.all(services.map((service) => stopChild(service.child, 30_000)));
    // A stop during start-up waits for the start to finish, so nothing it launched is left running.
    const started = stack ?? (await starting?.catch(() => undefined));
    await started?.stop();
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    say(`starting the Kairos ${purpose} stack…`);
    starting = startLocalStack({ purpose, log: say });
    stack = await starting;
    // Created once here, as `npm run topics -- --create` does, so services starting together find them and the
    // tests' services (which get two partitions) find the catalogue as they would create it. One broker: one copy.
    const partitions = process.env['KAFKA_TOPIC_PARTITIONS'] ?? (purpose === 'test' ? '2' : '3');
    const topicEnv = { KAFKA_TOPIC_PARTITIONS: partitions, KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '1' };
    // kafkajs logs every "not the leader" answer while a new topic elects its leader as an ERROR, though waiting for
    // the leaders is what this does; a real failure is thrown and reported.
    const created = await createCatalogueTopics(
      connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-stack', logLevel: 'nothing' }),
      { partitions: Number(partitions), replicationFactor: 1, minInsyncReplicas: 1 },
      SERVICES.map((service) => deadLetterTopic(`kairos-${service.name}`)),
    );
    if (created.length > 0) say(`created ${created.length} topics`);
    if (purpose === 'dev') await publishDefinitions(stack.kafkaBrokers, definitionsFolder(stack.dataDir));
    if (json) {
      process.stdout.write(`${JSON.stringify({ kafkaBrokers: stack.kafkaBrokers, databaseUrl: stack.databaseUrl, smtpUrl: stack.smtpUrl, inboxUrl: stack.inboxUrl })}\n`);
    }
    if (args.has('--control')) acceptControlCommands(stack);
    const writeKey = process.env['KAIROS_DEV_WRITE_KEY'] ?? `dev_${randomBytes(12).toString('hex')}`;
    if (!args.has('--infra-only')) {
      const env = {
        ...process.env,
        KAFKA_BROKERS: stack.kafkaBrokers,
        DATABASE_URL: stack.databaseUrl,
        SMTP_URL: stack.smtpUrl,
        KAIROS_DEV_WRITE_KEY: writeKey,
        // Webhooks are signed with the secret their step names (the VIP hand-over: VIP_WEBHOOK_SECRET), else with
        // WEBHOOK_SECRET; development secrets for this run, unless set.
        WEBHOOK_SECRET: process.env['WEBHOOK_SECRET'] ?? randomBytes(32).toString('hex'),
        VIP_WEBHOOK_SECRET: process.env['VIP_WEBHOOK_SECRET'] ?? randomBytes(32).toString('hex'),
        // Below the 30 s this stack gives each service to stop: an overrunning stop says what it waited for.
        STOP_TIMEOUT_SECONDS: process.env['STOP_TIMEOUT_SECONDS'] ?? '25',
        ...topicEnv,
        ...(args.has('--demo') ? demoGuardRails() : {}),
      };
      say('starting services…');
      for (const service of SERVICES) {
        const healthPort = Number(process.env[`${service.name.toUpperCase()}_HEALTH_PORT`] ?? service.healthPort);
        const publicPort = 'publicVariable' in service ? Number(process.env[service.publicVariable] ?? service.publicPort) : undefined;
        const child = spawn(process.execPath, ['-r', '@swc-node/register', join(root, 'services', service.name, 'src', 'main.ts')], {
          cwd: root,
          env: { ...env, HEALTH_PORT: String(healthPort), ...('publicVariable' in service ? { [service.publicVariable]: String(publicPort) } : {}) },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        child.once('exit', (code) => {
          if (!stopping) {
            say(`${service.name} exited with code ${code}; stopping the stack`);
            void shutdown(1);
          }
        });
        services.push({ name: service.name, healthPort, publicPort, child });
      }
      await Promise.all(services.map((service) => waitUntilHealthy(service.name, service.child, service.healthPort)));
    }

    say('');
    say(`Kairos is up in ${((Date.now() - begun) / 1000).toFixed(1)} s:`);
    for (const component of stack.components) {
      say(`  ${component.name.padEnd(13)} ${component.endpoint}${component.external ? ' (external)' : ''}${component.detail ? `  ${component.detail}` : ''}`);
    }
    for (const service of services) {
      say(`  ${service.name.padEnd(13)} health http://127.0.0.1:${service.healthPort}/health/ready${service.publicPort ? `  public http://127.0.0.1:${service.publicPort}` : ''}`);
    }
    if (!args.has('--infra-only')) say(`  write key     ${writeKey}   (curl -u ${writeKey}: http://127.0.0.1:${services[0].publicPort}/v1/track …)`);
    if (args.has('--demo')) {
      const dispatch = services.find((service) => service.name === 'dispatch');
      const demo = await startDemoTraffic({
        brokers: stack.kafkaBrokers,
        collectorUrl: `http://127.0.0.1:${services[0].publicPort}`,
        writeKey,
        inboxUrl: stack.inboxUrl,
        dispatchOrigin: `http://127.0.0.1:${dispatch?.publicPort ?? 8083}`,
        log: say,
      });
      stopDemo = demo.stop;
    }
    say('Press Ctrl-C to stop.');
  } catch (error) {
    say(`failed: ${(error as Error).message}`);
    await shutdown(1);
  }
}

/**
 * KAIROS_DEFINITIONS_DIR, else the example folder — for the demo a copy of it in which one day lasts
 * KAIROS_DEMO_SECONDS_PER_DAY (20) seconds, so the welcome series, the abandoned cart and the 14-day reactivation
 * play out in minutes.
 */
function definitionsFolder(dataDir: string): string {
  const chosen = process.env['KAIROS_DEFINITIONS_DIR'];
  if (chosen) return resolve(chosen);
  const examples = join(root, 'definitions', 'shop');
  if (!args.has('--demo')) return examples;
  const secondsPerDay = Number(process.env['KAIROS_DEMO_SECONDS_PER_DAY'] ?? 20);
  const target = join(dataDir, 'demo-definitions');
  const shortened = writeDemoDefinitions(examples, target, secondsPerDay);
  say(`demo definitions: one day lasts ${secondsPerDay} s (${shortened.length} durations shortened; the files are in ${target})`);
  return target;
}

/**
 * The guard rails on the demo's clock: the frequency cap (3 marketing mails in 7 days, none within 16 hours) with
 * one day lasting KAIROS_DEMO_SECONDS_PER_DAY seconds, and no quiet hours (a demo at night would otherwise defer every
 * marketing mail to 08:00). TRIGGERS_MARKETING_EMAIL_CAP and TRIGGERS_QUIET_HOURS set by hand win.
 */
function demoGuardRails(): Record<string, string> {
  const secondsPerDay = Number(process.env['KAIROS_DEMO_SECONDS_PER_DAY'] ?? 20);
  const cap = process.env['TRIGGERS_MARKETING_EMAIL_CAP'] ?? `3/${Math.round(7 * secondsPerDay)}s,${Math.round((16 / 24) * secondsPerDay)}s`;
  const quietHours = process.env['TRIGGERS_QUIET_HOURS'] ?? 'off';
  say(`demo guard rails: marketing e-mail cap ${cap}, quiet hours ${quietHours}`);
  return { TRIGGERS_MARKETING_EMAIL_CAP: cap, TRIGGERS_QUIET_HOURS: quietHours };
}

/**
 * The demo runs on definitions a user can read and change: the example folder (or KAIROS_DEFINITIONS_DIR) is
 * published as `kairos publish` would, so `npx kairos publish` from a second terminal changes the running stack.
 * Only what changed is published, so a restart on kept data publishes nothing.
 */
async function publishDefinitions(brokers: string, directory: string): Promise<void> {
  const kafka = connectKafka({ brokers, clientId: 'kairos-stack', logLevel: 'nothing' });
  const result = await publishFolder(kafka, directory, { user: userInfo().username, host: hostname(), tool: 'kairos-stack', directory }, { write: true });
  if (result.refused) throw new Error(`definitions in ${directory} not published:\n${result.errors.map(formatDefinitionError).join('\n')}`);
  const changes = result.plan?.changes ?? [];
  say(changes.length > 0 ? `published ${changes.length} definitions from ${directory}` : `definitions from ${directory} are live (unchanged)`);
}

/** Fault tests run in a Jest worker, which cannot host the broker or PostgreSQL; they ask this process to restart them. */
function acceptControlCommands(stack: LocalStack): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [verb, component, downMs] = line.trim().split(/\s+/);
    const answer = (result: object) => process.stdout.write(`${JSON.stringify({ command: line.trim(), ...result })}\n`);
    if (verb !== 'restart' || (component !== 'kafka' && component !== 'postgres')) {
      answer({ error: 'unknown command; try "restart kafka 2000" or "restart postgres 20000"' });
      return;
    }
    say(`restarting ${component} (down for ${Number(downMs ?? 0)} ms)…`);
    stack.restart(component, Number(downMs ?? 0)).then(
      () => answer({ done: true }),
      (error: Error) => answer({ error: error.message }),
    );
  });
}

void main();
