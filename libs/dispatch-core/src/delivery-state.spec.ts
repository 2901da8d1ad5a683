import { advanceDelivery, DeliveryClock, DeliveryEvent, DeliveryState, receiveDelivery, retryDelayMs, RetryPolicy } from './delivery-state';

const T0 = new Date('2026-11-23T10:00:00.000Z');
const POLICY: RetryPolicy = { maxAttempts: 3, initialDelayMs: 60_000, maxDelayMs: 3_600_000 };

function clockAt(now: Date, random = () => 0.5): DeliveryClock {
  return { now, random, policy: POLICY };
}

/** Applies events in order, failing the test on a refused one. */
function run(events: DeliveryEvent[], clock: DeliveryClock = clockAt(T0), from: DeliveryState = receiveDelivery().state) {
  let state = from;
  const effects = [];
  for (const event of events) {
    const next = advanceDelivery(state, event, clock);
    if (!next.ok) throw new Error(next.message);
    state = next.state;
    effects.push(...next.effects);
  }
  return { state, effects };
}

const ACCEPTED: DeliveryEvent = { type: 'smtp-accepted', messageId: '<d-1@mail.shop.example>', response: '250 2.0.0 queued as 4F2' };
const BUSY: DeliveryEvent = { type: 'smtp-temporary', code: 451, detail: '451 4.3.0 try again later' };

describe('delivery state machine', () => {
  it('sends a request that consent allows: queued, checked, rendered, sent', () => {
    const received = receiveDelivery();
    expect(received).toEqual({ state: { status: 'received', attempts: 0, history: [] }, effects: [{ type: 'publish-outcome', outcome: 'queued' }, { type: 'check' }] });
    const { state, effects } = run([{ type: 'allowed' }, { type: 'rendered' }, ACCEPTED]);
    expect(effects).toEqual([{ type: 'render' }, { type: 'send', attempt: 1 }, { type: 'publish-outcome', outcome: 'sent' }]);
    expect(state).toEqual({
      status: 'sent',
      attempts: 1,
      history: [{ attempt: 1, at: T0.toISOString(), result: 'accepted', detail: '250 2.0.0 queued as 4F2' }],
      sentAt: T0.toISOString(),
      messageId: '<d-1@mail.shop.example>',
      response: '250 2.0.0 queued as 4F2',
    });
  });

  it('changes nothing when a request for a dispatch already sent is delivered again', () => {
    const { state } = run([{ type: 'allowed' }, { type: 'rendered' }, ACCEPTED]);
    expect(advanceDelivery(state, { type: 'requested' }, clockAt(T0))).toEqual({ ok: true, state, effects: [] });
    // …nor in any other state: the row decides, not the copy of the request.
    for (const events of [[], [{ type: 'allowed' }], [{ type: 'allowed' }, { type: 'rendered' }], [{ type: 'allowed' }, { type: 'rendered' }, BUSY]] as DeliveryEvent[][]) {
      const at = run(events).state;
      expect(advanceDelivery(at, { type: 'requested' }, clockAt(T0))).toEqual({ ok: true, state: at, effects: [] });
    }
  });

  it('waits out an unreachable relay without using up attempts, however long it lasts', () => {
    const UNREACHABLE: DeliveryEvent = { type: 'smtp-unreachable', detail: 'ECONNECTION: connect ECONNREFUSED 127.0.0.1:2525' };
    let { state } = run([{ type: 'allowed' }, { type: 'rendered' }]);
    let now = T0.getTime();
    for (let outage = 0; outage < 100; outage++) {
      const waited = advanceDelivery(state, UNREACHABLE, clockAt(new Date(now)));
      if (!waited.ok) throw new Error(waited.message);
      expect(waited.state).toMatchObject({ status: 'retrying', attempts: 0, history: [] });
      const due = waited.state.status === 'retrying' ? Date.parse(waited.state.nextAttemptAt) : NaN;
      expect(due - now).toBe(10_000); // 5 to 15 s; 10 with random 0.5
      now = due;
      state = run([{ type: 'allowed' }], clockAt(new Date(now)), waited.state).state;
    }
    expect(run([ACCEPTED], clockAt(new Date(now)), state).state).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('records a suppressed request with its reason and sends nothing', () => {
    const { state, effects } = run([{ type: 'suppressed', reason: 'unsubscribed' }]);
    expect(state).toEqual({ status: 'suppressed', attempts: 0, history: [], reason: 'unsubscribed' });
    expect(effects).toEqual([{ type: 'publish-outcome', outcome: 'suppressed' }]);
  });

  it('fails a render failure at once and dead-letters it', () => {
    const { state, effects } = run([{ type: 'allowed' }, { type: 'render-failed', detail: 'iteration-limit: #each: more than 10000 iterations' }]);
    expect(state).toMatchObject({ status: 'failed', reason: 'render-failed', attempts: 0 });
    expect(effects.slice(-2)).toEqual([{ type: 'publish-outcome', outcome: 'failed' }, { type: 'dead-letter' }]);
  });

  it('fails a permanent 5xx at once, without retrying', () => {
    const { state, effects } = run([{ type: 'allowed' }, { type: 'rendered' }, { type: 'smtp-permanent', code: 550, detail: '5.1.1 no such user' }]);
    expect(state).toMatchObject({ status: 'failed', reason: 'smtp-permanent', detail: '550 5.1.1 no such user', attempts: 1, history: [{ attempt: 1, result: 'permanent', code: 550 }] });
    expect(effects.slice(-2)).toEqual([{ type: 'publish-outcome', outcome: 'failed' }, { type: 'dead-letter' }]);
  });

  it('retries temporary failures with back-off, re-checking consent, until the last attempt, then dead-letters with the history', () => {
    const sending = run([{ type: 'allowed' }, { type: 'rendered' }]).state;
    const first = advanceDelivery(sending, BUSY, clockAt(T0, () => 0));
    expect(first).toMatchObject({ ok: true, state: { status: 'retrying', attempts: 1, nextAttemptAt: '2026-11-23T10:00:30.000Z' } });
    if (!first.ok) return;
    expect(first.effects).toEqual([{ type: 'publish-outcome', outcome: 'retried' }, { type: 'schedule-retry', at: '2026-11-23T10:00:30.000Z' }]);

    // A check before the timer is due does not send; when it is due, the check sends attempt 2.
    expect(advanceDelivery(first.state, { type: 'allowed' }, clockAt(new Date('2026-11-23T10:00:29.999Z')))).toMatchObject({ ok: false, reason: 'illegal-transition' });
    const t1 = new Date('2026-11-23T10:00:30.000Z');
    const second = run([{ type: 'allowed' }, { type: 'smtp-temporary', detail: 'connect ECONNREFUSED 127.0.0.1:2525' }], clockAt(t1, () => 1), first.state);
    expect(second.effects[0]).toEqual({ type: 'send', attempt: 2 });
    expect(second.state).toMatchObject({ status: 'retrying', attempts: 2, nextAttemptAt: new Date(t1.getTime() + 120_000).toISOString() });

    const t2 = new Date(t1.getTime() + 120_000);
    const last = run([{ type: 'allowed' }, { type: 'smtp-temporary', detail: 'timeout' }], clockAt(t2), second.state);
    expect(last.state).toMatchObject({ status: 'failed', reason: 'retries-exhausted', detail: '3 attempts; last: timeout', attempts: 3 });
    expect(last.state.history.map((attempt) => [attempt.attempt, attempt.result, attempt.code])).toEqual([
      [1, 'temporary', 451],
      [2, 'temporary', undefined],
      [3, 'temporary', undefined],
    ]);
    expect(last.effects.slice(-2)).toEqual([{ type: 'publish-outcome', outcome: 'failed' }, { type: 'dead-letter' }]);
  });

  it('suppresses a retry when consent was withdrawn meanwhile', () => {
    const retrying = run([{ type: 'allowed' }, { type: 'rendered' }, BUSY]).state;
    expect(run([{ type: 'suppressed', reason: 'unsubscribed' }], clockAt(new Date('2026-11-24T00:00:00Z')), retrying).state).toMatchObject({ status: 'suppressed', attempts: 1 });
  });

  it('refuses illegal transitions', () => {
    const sent = run([{ type: 'allowed' }, { type: 'rendered' }, ACCEPTED]).state;
    const cases: Array<[DeliveryState, DeliveryEvent]> = [
      [receiveDelivery().state, { type: 'rendered' }],
      [receiveDelivery().state, ACCEPTED],
      [run([{ type: 'allowed' }]).state, ACCEPTED],
      [run([{ type: 'allowed' }, { type: 'rendered' }]).state, { type: 'suppressed', reason: 'late' }],
      [sent, ACCEPTED],
      [sent, BUSY],
      [sent, { type: 'allowed' }],
      [run([{ type: 'suppressed', reason: 'x' }]).state, { type: 'allowed' }],
    ];
    for (const [state, event] of cases) {
      expect(advanceDelivery(state, event, clockAt(T0))).toEqual({
        ok: false,
        reason: 'illegal-transition',
        status: state.status,
        event: event.type,
        message: `a delivery that is ${state.status} cannot take ${event.type}`,
      });
    }
  });
});

describe('retryDelayMs', () => {
  it('doubles up to the maximum, with jitter between half and all of it', () => {
    const policy: RetryPolicy = { maxAttempts: 10, initialDelayMs: 1_000, maxDelayMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, policy, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, policy, () => 0))).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(retryDelayMs(3, policy, () => 0.25)).toBe(2_500);
  });
});
