import { randomUUID } from 'node:crypto';
import { ALL_TOPICS, Topics } from '@kairos/contracts';
import { connectKafka, RecordProducer } from '@kairos/kafka';

export interface DemoOptions {
  brokers: string;
  collectorUrl: string;
  writeKey: string;
  /** Events per second in all, across the audience. */
  rate?: number;
  log: (line: string) => void;
}

interface Shopper {
  anonymousId: string;
  userId: string;
  email: string;
  known: boolean;
  cart: Array<{ product_id: string; name: string; price: number }>;
}

const PRODUCTS = [
  { product_id: 'p-espresso', name: 'Espresso machine', price: 449 },
  { product_id: 'p-grinder', name: 'Burr grinder', price: 189 },
  { product_id: 'p-beans', name: 'Single-origin beans 1 kg', price: 42 },
  { product_id: 'p-kettle', name: 'Gooseneck kettle', price: 79 },
  { product_id: 'p-scale', name: 'Brew scale', price: 55 },
];

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];

/** One step of a shopper's visit, as a Segment tracking-spec event. */
function nextEvent(shopper: Shopper): Record<string, unknown> {
  const now = new Date().toISOString();
  const base = {
    messageId: randomUUID(),
    anonymousId: shopper.anonymousId,
    ...(shopper.known ? { userId: shopper.userId } : {}),
    timestamp: now,
    sentAt: now,
    context: { library: { name: 'kairos-demo', version: '1' }, userAgent: 'kairos-demo/1', consent: { categoryPreferences: { marketing: true, analytics: true } } },
  };
  const roll = Math.random();
  if (!shopper.known && roll < 0.1) {
    shopper.known = true;
    return { ...base, type: 'identify', userId: shopper.userId, traits: { email: shopper.email, firstName: shopper.userId.split('-')[0] } };
  }
  if (roll < 0.45) return { ...base, type: 'page', name: pick(['Home', 'Category', 'Journal']), properties: { path: '/' } };
  if (roll < 0.75) return { ...base, type: 'track', event: 'Product Viewed', properties: pick(PRODUCTS) };
  if (roll < 0.9) {
    const product = pick(PRODUCTS);
    shopper.cart.push(product);
    return { ...base, type: 'track', event: 'Product Added', properties: { ...product, quantity: 1 } };
  }
  if (shopper.cart.length > 0 && shopper.known) {
    const products = shopper.cart.splice(0);
    const total = products.reduce((sum, product) => sum + product.price, 0);
    return { ...base, type: 'track', event: 'Order Completed', properties: { order_id: randomUUID(), currency: 'CHF', total, products } };
  }
  return { ...base, type: 'page', name: 'Cart', properties: { path: '/cart' } };
}

/**
 * A generated shop audience: shoppers browse, add to cart, identify and order. Seven in ten events go through the
 * HTTP collector (as a browser or server SDK would send them), three straight onto the raw topic (as a back end
 * producing to Kafka would). Every five seconds it prints how many records each topic gained, so the flow through
 * whichever stages exist is visible.
 */
export async function startDemoTraffic(options: DemoOptions): Promise<{ stop(): Promise<void> }> {
  const kafka = connectKafka({ brokers: options.brokers, clientId: 'kairos-demo' });
  const producer = new RecordProducer(kafka);
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();
  const audience: Shopper[] = Array.from({ length: 500 }, (_, index) => ({
    anonymousId: randomUUID(),
    userId: `${pick(['anna', 'luca', 'mia', 'noah', 'lea', 'elias'])}-${index}`,
    email: `shopper${index}@example.com`,
    known: false,
    cart: [],
  }));
  const rate = options.rate ?? 50;
  let sent = 0;
  let failed = 0;
  const tick = setInterval(async () => {
    const batch = Array.from({ length: Math.max(1, Math.round(rate / 10)) }, () => nextEvent(pick(audience)));
    const viaHttp = batch.filter(() => Math.random() < 0.7);
    const direct = batch.filter((event) => !viaHttp.includes(event));
    try {
      const response = await fetch(`${options.collectorUrl}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}` },
        body: JSON.stringify({ batch: viaHttp }),
      });
      if (response.ok) sent += viaHttp.length;
      else failed += viaHttp.length;
      await producer.send(Topics.raw.name, direct.map((event) => ({ key: null, value: JSON.stringify(event) })));
      sent += direct.length;
    } catch {
      failed += batch.length;
    }
  }, 100);

  let previous = new Map<string, number>();
  const report = setInterval(async () => {
    const totals = new Map<string, number>();
    for (const topic of ALL_TOPICS) {
      const offsets = await admin.fetchTopicOffsets(topic.name).catch(() => []);
      totals.set(topic.name, offsets.reduce((sum, partition) => sum + Number(partition.high), 0));
    }
    const moved = [...totals].filter(([name, total]) => total !== (previous.get(name) ?? 0)).map(([name, total]) => `${name.replace(/^kairos\./, '').replace(/\.v1$/, '')} +${total - (previous.get(name) ?? 0)}`);
    options.log(`demo: ${sent} events sent${failed ? `, ${failed} refused` : ''} | ${moved.join(' | ') || 'no topic moved'}`);
    previous = totals;
  }, 5_000);

  options.log(`demo: ${audience.length} shoppers, about ${rate} events/s`);
  return {
    async stop() {
      clearInterval(tick);
      clearInterval(report);
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}
