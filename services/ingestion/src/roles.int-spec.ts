import { randomUUID } from 'node:crypto';
import { serviceTestEnv } from '@kairos/testing';
import { startIngestion } from './main';

const writeKey = `role_test_key_${randomUUID()}`;

describe('ingestion roles', () => {
  it('runs a collector-only replica without a database', async () => {
    const env = await serviceTestEnv({
      INGESTION_ROLE: 'collector',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nowhere',
      KAIROS_SOURCES: JSON.stringify([{ id: 'roles', writeKey }]),
    });
    const service = await startIngestion(env);
    try {
      const response = await fetch(`http://127.0.0.1:${env['COLLECTOR_PORT']}/v1/track`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
        body: JSON.stringify({ event: 'Role check', userId: 'u' }),
      });
      expect(response.status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('runs an intake-only replica with no public HTTP', async () => {
    const env = await serviceTestEnv({ INGESTION_ROLE: 'intake' });
    const service = await startIngestion(env);
    try {
      expect((await fetch(`http://127.0.0.1:${env.HEALTH_PORT}/health/ready`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${env['COLLECTOR_PORT']}/v1/track`, { method: 'POST', body: '{}' })).rejects.toThrow();
    } finally {
      await service.stop();
    }
  });

  it('refuses to start with a malformed source list, naming the problem', async () => {
    const env = await serviceTestEnv({ KAIROS_SOURCES: '[{"id":"web","writeKey":"short"}]' });
    await expect(startIngestion(env)).rejects.toThrow('KAIROS_SOURCES is invalid: /0/writeKey must NOT have fewer than 16 characters');
  });
});
