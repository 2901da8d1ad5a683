import { ConfigError, loadConfig } from './load-config';
import { integer, oneOf, port, text } from './variables';
import { topicConfig, topicVariables, trustProxyOf } from './common-variables';

const variables = {
  KAFKA_BROKERS: text({ description: 'brokers', default: '127.0.0.1:9092' }),
  HEALTH_PORT: port(9101, 'health'),
  BATCH_SIZE: integer({ description: 'batch', default: 100, minimum: 1 }),
  MODE: oneOf(['a', 'b'] as const, { description: 'mode', default: 'a' }),
  SECRET: text({ description: 'required secret' }),
};

describe('loadConfig', () => {
  it('fills defaults and converts numbers', () => {
    expect(loadConfig(variables, { SECRET: 's', HEALTH_PORT: '9200' })).toEqual({
      KAFKA_BROKERS: '127.0.0.1:9092',
      HEALTH_PORT: 9200,
      BATCH_SIZE: 100,
      MODE: 'a',
      SECRET: 's',
    });
  });

  it('names every variable that is wrong, with the value it got', () => {
    let error: unknown;
    try {
      loadConfig(variables, { HEALTH_PORT: '70000', BATCH_SIZE: 'many', MODE: 'c' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('SECRET is required but not set');
    expect(message).toContain('HEALTH_PORT must be <= 65535 (got "70000")');
    expect(message).toContain('BATCH_SIZE must be integer (got "many")');
    expect(message).toContain('MODE must be equal to one of the allowed values (a, b) (got "c")');
  });
});

describe('topicConfig', () => {
  const topics = (env: NodeJS.ProcessEnv) => topicConfig(loadConfig(topicVariables, env));

  it('defaults to three copies, two of them in sync', () => {
    expect(topics({})).toEqual({ partitions: 6, replicationFactor: 3, minInsyncReplicas: 2, waitSeconds: 120 });
  });

  it('refuses more in-sync replicas than copies, naming both variables', () => {
    expect(() => topics({ KAFKA_REPLICATION_FACTOR: '1' })).toThrow(
      'invalid configuration: KAFKA_MIN_INSYNC_REPLICAS must be <= KAFKA_REPLICATION_FACTOR (got 2 and 1): no write with acks=all could ever be acknowledged',
    );
  });

  it('refuses a replication factor of zero at boot', () => {
    expect(() => topics({ KAFKA_REPLICATION_FACTOR: '0' })).toThrow('KAFKA_REPLICATION_FACTOR must be >= 1 (got "0")');
  });
});

describe('HTTP_TRUST_PROXY', () => {
  it('is Fastify trustProxy: unset or false trusts none; true, a hop count or addresses', () => {
    expect([undefined, '', 'false'].map((value) => trustProxyOf(value))).toEqual([undefined, undefined, undefined]);
    expect(trustProxyOf('true')).toBe(true);
    expect([trustProxyOf('TRUE'), trustProxyOf('False')]).toEqual([true, undefined]);
    expect(trustProxyOf('1')).toBe(1);
    expect(trustProxyOf(' 10.0.0.0/8,127.0.0.1 ')).toBe('10.0.0.0/8,127.0.0.1');
  });
});
