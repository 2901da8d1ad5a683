import { Topics } from '@kairos/contracts';
import { connectKafka, RecordProducer } from '@kairos/kafka';
import { createAudience, nextEvents, Shopper } from './demo-audience';
import { startDemoReader } from './demo-reader';
import { startDemoSummary } from './demo-summary';

export interface DemoOptions {
  brokers: string;
  collectorUrl: string;
  writeKey: string;
  /** The SMTP sink's inbox API and dispatch's public origin: the demo's readers open and click what arrives. */
  inboxUrl?: string;
  dispatchOrigin: string;
  /** Shoppers in the generated audience. */
  shoppers?: number;
  /** Shopper actions per second in all (an action is one event, or a few for a sign-up). */
  rate?: number;
  log: (line: string) => void;
}

/**
 * Drives a generated shop audience (see demo-audience.ts) through the pipeline: seven in ten events go through the
 * HTTP collector (as a browser or server SDK would send them), three straight onto the raw topic (as a back end
 * producing to Kafka would). Every five seconds it prints a summary read from the outcome topics.
 */
export async function startDemoTraffic(options: DemoOptions): Promise<{ stop(): Promise<void> }> {
  const kafka = connectKafka({ brokers: options.brokers, clientId: 'kairos-demo' });
  const producer = new RecordProducer(kafka);
  await producer.connect();
  const audience: Shopper[] = createAudience(options.shoppers ?? 300);
  const rate = options.rate ?? 30;
  let sent = 0;
  let refused = 0;
  let busy = false;
  const tick = setInterval(async () => {
    if (busy) return; // a slow collector delays the audience instead of piling requests up
    busy = true;
    const now = Date.now();
    const due = audience.filter((shopper) => shopper.ordersAt !== undefined && shopper.ordersAt <= now);
    const visited = Array.from({ length: Math.max(1, Math.round(rate / 10)) }, () => audience[Math.floor(Math.random() * audience.length)]);
    // One shopper's events stay on one path, in order: through the collector, or onto the topic.
    const batches = [...new Set([...due, ...visited])].map((shopper) => ({ viaHttp: shopper.index % 10 < 7, events: nextEvents(shopper, now) }));
    const viaHttp = batches.filter((batch) => batch.viaHttp).flatMap((batch) => batch.events);
    const direct = batches.filter((batch) => !batch.viaHttp).flatMap((batch) => batch.events);
    try {
      if (viaHttp.length > 0) {
        const response = await fetch(`${options.collectorUrl}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}` },
          body: JSON.stringify({ batch: viaHttp }),
        });
        if (response.ok) sent += viaHttp.length;
        else refused += viaHttp.length;
      }
      if (direct.length > 0) {
        await producer.send(Topics.raw.name, direct.map((event) => ({ key: String(event['anonymousId']), value: JSON.stringify(event) })));
        sent += direct.length;
      }
    } catch {
      refused += viaHttp.length + direct.length;
    } finally {
      busy = false;
    }
  }, 100);

  const summary = await startDemoSummary(kafka, (lines) => {
    options.log(`demo: ${sent} events sent${refused ? `, ${refused} refused` : ''}`);
    for (const line of lines) options.log(`  ${line}`);
  });
  const reader = options.inboxUrl ? startDemoReader({ inboxUrl: options.inboxUrl, dispatchOrigin: options.dispatchOrigin, log: options.log }) : undefined;
  options.log(`demo: ${audience.length} shoppers, about ${rate} actions/s${reader ? '; readers open, click and confirm the mail that arrives' : ''}`);
  return {
    async stop() {
      clearInterval(tick);
      reader?.stop();
      await summary.stop();
      await producer.disconnect();
    },
  };
}
