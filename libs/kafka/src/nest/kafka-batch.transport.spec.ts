import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern } from '@nestjs/microservices';
import { rawDecoder } from '../decoders';
import { connectKafka } from '../kafka-connection';
import { RecordProducer } from '../record-producer';
import { KafkaBatchTransport } from './kafka-batch.transport';

@Controller()
class OrdersConsumer {
  @EventPattern('orders')
  async onOrders(): Promise<void> {
    // never called: the wiring check runs before consumption
  }
}

@Controller()
class SecondOrdersConsumer {
  @EventPattern('orders')
  async alsoOnOrders(): Promise<void> {
    // never called: the wiring check runs before consumption
  }
}

@Module({ controllers: [OrdersConsumer] })
class OneHandlerModule {}

@Module({ controllers: [OrdersConsumer, SecondOrdersConsumer] })
class TwoHandlersModule {}

// The wiring check runs before any connection is made, so an unreachable broker is fine here.
const kafka = connectKafka({ brokers: '127.0.0.1:1', clientId: 'wiring-spec' });

async function start(module: unknown, topics: string[]): Promise<void> {
  const transport = new KafkaBatchTransport({
    kafka,
    groupId: 'wiring-spec',
    producer: new RecordProducer(kafka),
    subscriptions: topics.map((topic) => ({ topic, decoder: rawDecoder })),
  });
  const app = await NestFactory.createMicroservice(module as never, { strategy: transport, logger: false, abortOnError: false });
  try {
    await app.listen();
  } finally {
    await app.close().catch(() => undefined);
  }
}

describe('KafkaBatchTransport wiring check', () => {
  it('refuses a subscribed topic without a handler', async () => {
    await expect(start(OneHandlerModule, ['orders', 'payments'])).rejects.toThrow('payments is subscribed but has no handler');
  });

  it('refuses a topic with two handlers', async () => {
    await expect(start(TwoHandlersModule, ['orders'])).rejects.toThrow('orders has more than one handler');
  });

  it('refuses a handler for a topic the service does not subscribe to', async () => {
    await expect(start(OneHandlerModule, [])).rejects.toThrow('a handler listens to orders, which the service does not subscribe to');
  });
});
