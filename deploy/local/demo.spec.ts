import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateDefinitions } from '@kairos/definitions';
import { readDefinitionsFolder } from '@kairos/definitions-topic';
import { createAudience, nextEvents } from './demo-audience';
import { writeDemoDefinitions } from './demo-definitions';
import { DemoTally } from './demo-summary';

describe('the demo', () => {
  it('shortens every duration of the example definitions and keeps them valid', () => {
    const target = mkdtempSync(join(tmpdir(), 'kairos-demo-definitions-'));
    try {
      const changed = writeDemoDefinitions(join(__dirname, '..', '..', 'definitions', 'shop'), target, 20, new Date('2026-12-07T17:00:30Z'));
      expect(changed).toContain('journeys/abandoned-cart.yaml: 4h -> 3s');
      expect(changed).toContain('segments/inactive-90-days.yaml: 90d -> 30m');
      // Clock times: the birthday two minutes after the start in Zurich (UTC+1 in December), the win-back's wait half a day.
      expect(changed).toContain('journeys/birthday.yaml: at 09:00 -> 18:03');
      expect(changed).toContain('journeys/win-back.yaml: wait until 10:00 -> 10s');
      const report = validateDefinitions(readDefinitionsFolder(target));
      expect(report.errors).toEqual([]);
      expect(report.definitions).toHaveLength(22);
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  it('drives an audience whose orders name carts it filled and whose opt-outs never subscribe', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const audience = createAudience(50, random);
    const events: Array<Record<string, unknown>> = [];
    for (let now = 1_800_000_000_000; now < 1_800_000_000_000 + 600_000; now += 100) {
      for (const shopper of audience) if (random() < 0.02 || (shopper.ordersAt !== undefined && shopper.ordersAt <= now)) events.push(...nextEvents(shopper, now, random));
    }
    const named = (name: string) => events.filter((event) => event['event'] === name);
    const properties = (event: Record<string, unknown>) => event['properties'] as Record<string, unknown>;
    const cartsFilled = new Set(named('Cart Updated').map((event) => properties(event)['cartId']));
    expect(named('Order Completed').length).toBeGreaterThan(10);
    for (const order of named('Order Completed')) expect(cartsFilled.has(properties(order)['cartId'])).toBe(true);
    const optedOut = new Set(audience.filter((shopper) => !shopper.optsIn).map((shopper) => shopper.userId));
    expect(optedOut.size).toBeGreaterThan(0);
    expect(named('Subscribed').filter((event) => optedOut.has(String(event['userId'])))).toEqual([]);
    expect(named('Signed Up').length).toBeGreaterThan(30);
  });

  it('tallies sends, opens and revenue per journey and variant', () => {
    const tally = new DemoTally();
    const origin = { journeyId: 'abandoned-cart', journeyVersion: 1, instanceId: 'i1', stepId: 's1', variant: 'second reminder' };
    tally.addJourneyOutcome({ outcomeId: 'o1', kind: 'entered', profileId: 'p1', journeyId: 'abandoned-cart', journeyVersion: 1, instanceId: 'i1', variant: 'second reminder', at: '2026-11-29T00:00:00Z' });
    tally.addDeliveryOutcome({ outcomeId: 'd1', kind: 'sent', dispatchId: 'x', profileId: 'p1', at: '2026-11-29T00:00:01Z', channel: 'email', origin });
    tally.addDeliveryOutcome({ outcomeId: 'd2', kind: 'opened', dispatchId: 'x', profileId: 'p1', at: '2026-11-29T00:00:02Z', channel: 'email' });
    tally.addJourneyOutcome({ outcomeId: 'o2', kind: 'goal-reached', profileId: 'p1', journeyId: 'abandoned-cart', journeyVersion: 1, instanceId: 'i1', variant: 'second reminder', at: '2026-11-29T00:00:03Z', detail: { value: 449.5 } });
    // Suppressed at the journey's step (no consent) and at send time both count; a deferral is not a cap's skip.
    tally.addJourneyOutcome({ outcomeId: 'o3', kind: 'suppressed-by-consent', profileId: 'p2', journeyId: 'vip-thank-you', journeyVersion: 1, instanceId: 'i2', at: '2026-11-29T00:00:04Z' });
    tally.addDeliveryOutcome({ outcomeId: 'd3', kind: 'suppressed', dispatchId: 'y', profileId: 'p3', at: '2026-11-29T00:00:05Z', channel: 'email' });
    tally.addJourneyOutcome({ outcomeId: 'o4', kind: 'deferred', profileId: 'p4', journeyId: 'welcome-series', journeyVersion: 1, instanceId: 'i4', at: '2026-11-29T00:00:06Z', detail: { reason: 'frequency cap' } });
    const lines = tally.lines(12.4, 1000);
    expect(lines[0]).toBe('events 12/s (1000 in all) | segment entries 0, exits 0 | journey entries 1 | mails sent 1, suppressed 2, capped 0, deferred 1');
    expect(lines[2]).toMatch(/^ {2}abandoned-cart \/ second reminder +1 +1 +1 +0 +1 +449\.50$/);
  });
});
