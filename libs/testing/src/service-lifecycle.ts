import { freePort } from '@kairos/local-stack';
import { testStack } from './test-stack';

interface StartedService {
  stop(): Promise<void>;
}

/** Environment for a service under test: the harness's stack and free ports, so tests never collide. */
export async function serviceTestEnv(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv & { HEALTH_PORT: string }> {
  const stack = testStack();
  return {
    KAFKA_BROKERS: stack.kafkaBrokers,
    DATABASE_URL: stack.databaseUrl,
    SMTP_URL: stack.smtpUrl,
    HEALTH_PORT: String(await freePort()),
    COLLECTOR_PORT: String(await freePort()),
    DISPATCH_PORT: String(await freePort()),
    IDENTITY_API_PORT: String(await freePort()),
    // As the harness created the catalogue: two partitions, one copy on the one broker.
    KAFKA_TOPIC_PARTITIONS: '2',
    KAFKA_REPLICATION_FACTOR: '1',
    KAFKA_MIN_INSYNC_REPLICAS: '1',
    TELEMETRY_EXPORTER: 'prometheus',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Starts a service, checks it reports ready and serves metrics, stops it and checks its ports are released. */
export async function expectServiceLifecycle(start: (env: NodeJS.ProcessEnv) => Promise<StartedService>): Promise<void> {
  const env = await serviceTestEnv();
  const service = await start(env);
  const health = `http://127.0.0.1:${env.HEALTH_PORT}`;
  try {
    const ready = await fetch(`${health}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const metrics = await fetch(`${health}/metrics`);
    expect(metrics.status).toBe(200);
  } finally {
    await service.stop();
  }
  await expect(fetch(`${health}/health/live`)).rejects.toThrow();
}
