import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDatabase, stopStaleServer } from './embedded-database';
import { startKafkaBroker, stopStaleBroker } from './kafka-broker';
import { freePort, portOrFail } from './ports';
import { startSmtpSink } from './smtp-sink';

export type StackPurpose = 'dev' | 'test';

export interface LocalStackOptions {
  /** dev: fixed default ports, data kept between runs. test: free ports, fresh data removed on stop. */
  purpose: StackPurpose;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface StackComponent {
  name: 'kafka' | 'postgres' | 'smtp';
  /** Where it is reached; `external` when the environment pointed at an existing one. */
  endpoint: string;
  external: boolean;
  detail?: string;
}

export interface LocalStack {
  kafkaBrokers: string;
  databaseUrl: string;
  smtpUrl: string;
  /** HTTP inbox of the local SMTP sink, when the sink runs. */
  inboxUrl?: string;
  /** Where this stack keeps its data (KAIROS_DATA_DIR). */
  dataDir: string;
  components: StackComponent[];
  stop(): Promise<void>;
  /** Stops a component this stack started, keeps its data and starts it again after `downMs` (the fault tests). */
  restart(component: 'kafka' | 'postgres', downMs: number): Promise<void>;
}

/**
 * Where a stack keeps its data. A test stack is thrown away with its folder: it never takes KAIROS_DATA_DIR, which in a
 * developer's shell names the demo's data — the test stack would stop that broker, wipe its data and delete the folder.
 */
export function stackRoot(purpose: StackPurpose, env: NodeJS.ProcessEnv): string {
  return purpose === 'test' ? join(tmpdir(), `kairos-test-${process.pid}`) : (env['KAIROS_DATA_DIR'] ?? join(tmpdir(), 'kairos-dev'));
}

async function port(purpose: StackPurpose, env: NodeJS.ProcessEnv, variable: string, fallback: number): Promise<number> {
  // A test stack takes free ports whatever the shell says: KAFKA_PORT set for a demo must not collide with it.
  if (purpose === 'test') return freePort();
  return env[variable] ? portOrFail(Number(env[variable]), variable) : portOrFail(fallback, variable);
}

/**
 * Starts what the environment does not already provide: KAFKA_BROKERS, DATABASE_URL and SMTP_URL each point at an
 * existing service; each one that is unset is started locally (Kafka from Maven Central's jars, embedded PostgreSQL,
 * the SMTP sink). The three start in parallel; if one fails, the others are stopped before the error is raised.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const fresh = options.purpose === 'test';
  const root = stackRoot(options.purpose, env);
  const stops: Array<() => Promise<void>> = [];
  const components: StackComponent[] = [];
  const restarts = new Map<'kafka' | 'postgres', (downMs: number) => Promise<void>>();

  const kafka = async (): Promise<string> => {
    if (env['KAFKA_BROKERS']) {
      components.push({ name: 'kafka', endpoint: env['KAFKA_BROKERS'], external: true });
      return env['KAFKA_BROKERS'];
    }
    const started = Date.now();
    await stopStaleBroker(join(root, 'kafka'), log);
    const broker = await startKafkaBroker({
      port: await port(options.purpose, env, 'KAFKA_PORT', 9092),
      controllerPort: await port(options.purpose, env, 'KAFKA_CONTROLLER_PORT', 9093),
      dataDir: join(root, 'kafka'),
      fresh,
      ownProcessGroup: options.purpose === 'dev',
      log,
    });
    stops.push(broker.stop);
    restarts.set('kafka', broker.restart);
    components.push({ name: 'kafka', endpoint: broker.brokers, external: false, detail: `ready in ${Date.now() - started} ms` });
    return broker.brokers;
  };
  const postgres = async (): Promise<string> => {
    if (env['DATABASE_URL']) {
      components.push({ name: 'postgres', endpoint: redact(env['DATABASE_URL']), external: true });
      return env['DATABASE_URL'];
    }
    const started = Date.now();
    await stopStaleServer(join(root, 'postgres'), log);
    const database = await startEmbeddedDatabase({
      port: await port(options.purpose, env, 'POSTGRES_PORT', 5433),
      dataDir: join(root, 'postgres'),
      fresh,
      database: 'kairos',
      ownProcessGroup: options.purpose === 'dev',
    });
    stops.push(database.stop);
    restarts.set('postgres', database.restart);
    components.push({ name: 'postgres', endpoint: redact(database.url), external: false, detail: `ready in ${Date.now() - started} ms` });
    return database.url;
  };
  let inboxUrl: string | undefined;
  const smtp = async (): Promise<string> => {
    if (env['SMTP_URL']) {
      components.push({ name: 'smtp', endpoint: redact(env['SMTP_URL']), external: true });
      return env['SMTP_URL'];
    }
    const sink = await startSmtpSink({
      smtpPort: await port(options.purpose, env, 'SMTP_PORT', 1025),
      httpPort: await port(options.purpose, env, 'SMTP_INBOX_PORT', 8025),
      mailDir: join(root, 'mail'),
    });
    stops.push(sink.stop);
    inboxUrl = sink.inboxUrl;
    components.push({ name: 'smtp', endpoint: sink.smtpUrl, external: false, detail: `inbox ${sink.inboxUrl.replace(/\/messages$/, '/')}` });
    return sink.smtpUrl;
  };

  const stop = async () => {
    await Promise.allSettled(stops.splice(0).map((stopOne) => stopOne()));
    // Throw-away data goes whole, mail and logs included, so test runs leave nothing in the temp folder.
    if (fresh) rmSync(root, { recursive: true, force: true });
  };
  const results = await Promise.allSettled([kafka(), postgres(), smtp()]);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const [kafkaBrokers, databaseUrl, smtpUrl] = results.map((result) => (result as PromiseFulfilledResult<string>).value);
  const restart = async (component: 'kafka' | 'postgres', downMs: number) => {
    const restartOne = restarts.get(component);
    if (!restartOne) throw new Error(`${component} was not started by this stack (it is external), so it cannot be restarted`);
    await restartOne(downMs);
  };
  return { kafkaBrokers, databaseUrl, smtpUrl, inboxUrl, dataDir: root, components, stop, restart };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
