import { HealthServer } from './health-server';

describe('HealthServer', () => {
  it('is live until a liveness check fails, and says which and why; readiness checks do not touch liveness', async () => {
    const health = new HealthServer('test');
    const consumer = { wedged: undefined as string | undefined };
    health.registerLiveness('kafka', () => consumer.wedged ?? true);
    health.register('database', () => 'database unavailable');
    expect(health.liveness()).toEqual({ live: true, checks: { kafka: 'ok' } });
    consumer.wedged = 'the stalled consumer did not stop within 30 s: this process cannot consume until it does, and may need a restart';
    expect(health.liveness()).toEqual({ live: false, checks: { kafka: consumer.wedged } });
    expect((await health.readiness()).checks).toEqual({ lifecycle: 'starting', database: 'database unavailable' });
  });
});
