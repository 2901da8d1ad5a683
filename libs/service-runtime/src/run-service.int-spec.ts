import { Controller, Get, Inject, Module } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DeadLetterHeaders, deadLetterTopic, TopicSpec } from '@kairos/contracts';
import { BatchContext, connectKafka, DecodedRecord, ensureTopics, jsonDecoder, RecordProducer } from '@kairos/kafka';
import { readTopic, serviceTestEnv, testStack, uniqueName } from '@kairos/testing';
import { runService } from './run-service';

const input = uniqueName('runtime-in');
const output = uniqueName('runtime-out');
const spec = (name: string): TopicSpec => ({ name, key: 'k', value: 'v', partitions: 2, cleanupPolicy: 'delete', retentionMs: -1, description: 'test' });

/** A miniature pipeline stage: reads orders, writes their totals, through the runtime's producer. */
@Controller()
class OrderTotalsConsumer {
  constructor(@Inject(RecordProducer) private readonly producer: RecordProducer) {}

  @EventPattern(input)
  async onOrders(@Payload() records: DecodedRecord<{ id: string; items: number[] }>[], @Ctx() context: BatchContext): Promise<void> {
    expect(context.topic).toBe(input);
    await this.producer.send(
      output,
      records.map((record) => ({ key: record.key, value: JSON.stringify({ id: record.data.id, total: record.data.items.reduce((a, b) => a + b, 0) }) })),
    );
  }
}

@Module({ controllers: [OrderTotalsConsumer] })
class OrderTotalsModule {}

const failing = uniqueName('runtime-failing');

/** A hybrid stage (HTTP and Kafka) whose handler and route both throw. */
@Controller()
class FailingStage {
  @EventPattern(failing)
  async onRecords(): Promise<void> {
    throw new TypeError("Cannot read properties of undefined (reading 'email')");
  }

  @Get('boom')
  boom(): never {
    throw new Error('route failed');
  }
}

@Module({ controllers: [FailingStage] })
class FailingModule {}

describe('runService', () => {
  it('runs a Nest stage that consumes batches through the Kafka transport and produces, with health and metrics', async () => {
    const env = await serviceTestEnv();
    const service = await runService({
      name: uniqueName('runtime'),
      module: OrderTotalsModule,
      kafka: { brokers: testStack().kafkaBrokers, clientId: 'runtime-int-spec', logLevel: 'error' },
      telemetry: { exporter: 'prometheus', otlpEndpoint: 'http://127.0.0.1:4318' },
      healthPort: Number(env.HEALTH_PORT),
      ownedTopics: [spec(input), spec(output)],
      subscriptions: [{ topic: input, decoder: jsonDecoder() }],
      logLevel: 'warn',
    });
    try {
      await service.producer.send(input, [
        { key: 'c1', value: JSON.stringify({ id: 'o1', items: [10, 20] }) },
        { key: 'c2', value: JSON.stringify({ id: 'o2', items: [5] }) },
      ]);
      const totals = await readTopic(testStack().kafkaBrokers, output, 2);
      expect(totals.map((record) => JSON.parse(record.value!.toString())).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: 'o1', total: 30 },
        { id: 'o2', total: 5 },
      ]);
      // The producer wrote W3C trace context, so the hop from input to output is one trace.
      expect(totals[0].headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const metrics = await (await fetch(`http://127.0.0.1:${env.HEALTH_PORT}/metrics`)).text();
      expect(metrics).toMatch(/kairos_kafka_consumed_records_total\{[^}]*topic="runtime-in-[^"]+"[^}]*\} 2/);
      expect(metrics).toMatch(/^kairos_event_loop_delay_seconds\{[^}]*quantile="0.99"[^}]*\} [\d.e-]+$/m);
    } finally {
      await service.stop();
    }
  });
});

describe('runService topics', () => {
  const later = uniqueName('runtime-later');

  @Controller()
  class LaterConsumer {
    @EventPattern(later)
    async onRecords(): Promise<void> {
      // Nothing to do: these tests are about start-up.
    }
  }

  @Module({ controllers: [LaterConsumer] })
  class LaterModule {}

  const options = async (waitSeconds: number) => {
    const env = await serviceTestEnv();
    return {
      healthPort: Number(env.HEALTH_PORT),
      options: {
        name: uniqueName('runtime-waiting'),
        module: LaterModule,
        kafka: { brokers: testStack().kafkaBrokers, clientId: 'runtime-int-spec', logLevel: 'error' as const },
        telemetry: { exporter: 'none' as const, otlpEndpoint: 'http://127.0.0.1:4318' },
        healthPort: Number(env.HEALTH_PORT),
        ownedTopics: [],
        subscriptions: [{ topic: later, decoder: jsonDecoder() }],
        topicSettings: { replicationFactor: 1, minInsyncReplicas: 1, waitSeconds },
        logLevel: 'error' as const,
      },
    };
  };

  it('fails start-up when a topic another owner creates is still missing after the bounded wait', async () => {
    const { options: bounded } = await options(1);
    await expect(runService(bounded)).rejects.toThrow(`gave up after 1 s waiting for topic ${later} (created by its owner)`);
  });

  it('waits, not ready, for a subscribed topic it does not own, and starts once its owner created it', async () => {
    const { healthPort, options: waiting } = await options(60);
    const starting = runService(waiting);
    const ready = async () => fetch(`http://127.0.0.1:${healthPort}/health/ready`).catch(() => undefined);
    let answer = await ready();
    while (!answer) answer = await new Promise((resolve) => setTimeout(resolve, 100)).then(ready);
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ status: 'not ready', checks: { lifecycle: 'starting' } });

    await ensureTopics(connectKafka({ brokers: testStack().kafkaBrokers, clientId: 'runtime-int-spec' }), [spec(later)]);
    const service = await starting;
    try {
      expect((await ready())?.status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('hands a Kafka handler\'s own error to the consumer (so the dead letter says what failed) and keeps HTTP errors as Nest answers them', async () => {
    const env = await serviceTestEnv();
    const groupId = uniqueName('failing-group');
    const service = await runService({
      name: uniqueName('runtime'),
      module: FailingModule,
      kafka: { brokers: testStack().kafkaBrokers, clientId: 'runtime-int-spec', logLevel: 'error' },
      telemetry: { exporter: 'prometheus', otlpEndpoint: 'http://127.0.0.1:4318' },
      healthPort: Number(env.HEALTH_PORT),
      groupId,
      ownedTopics: [spec(failing)],
      subscriptions: [{ topic: failing, decoder: jsonDecoder() }],
      http: { port: Number(env.COLLECTOR_PORT) },
      logLevel: 'error',
    });
    try {
      await service.producer.send(failing, [{ key: 'c1', value: JSON.stringify({ id: 'o1' }) }]);
      const [dead] = await readTopic(testStack().kafkaBrokers, deadLetterTopic(groupId).name, 1, 60_000);
      expect(dead!.headers[DeadLetterHeaders.reason]).toBe('processing_failed');
      expect(dead!.headers[DeadLetterHeaders.detail]).toBe("TypeError: Cannot read properties of undefined (reading 'email')");
      const response = await fetch(`http://127.0.0.1:${env.COLLECTOR_PORT}/boom`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ statusCode: 500, message: 'Internal server error' });
    } finally {
      await service.stop();
    }
  });
});
