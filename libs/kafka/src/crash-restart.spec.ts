import { EventEmitter } from 'node:events';
import { Consumer, KafkaJSNonRetriableError } from 'kafkajs';
import { CrashRestart } from './crash-restart';

const EVENTS = {
  CRASH: 'consumer.crash',
  STOP: 'consumer.stop',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  GROUP_JOIN: 'consumer.group_join',
  REBALANCING: 'consumer.rebalancing',
  HEARTBEAT: 'consumer.heartbeat',
  CONNECT: 'consumer.connect',
};

/** The part of a kafkajs consumer CrashRestart uses: its instrumentation events and stop(). */
function fakeConsumer(stop: () => Promise<void> = async () => undefined): { consumer: Consumer; crash(error: Error, restart: boolean): void; emit(event: keyof typeof EVENTS): void } {
  const emitter = new EventEmitter();
  const consumer = { events: EVENTS, on: (event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener), stop } as unknown as Consumer;
  return {
    consumer,
    crash: (error, restart) => emitter.emit(EVENTS.CRASH, { payload: { error, restart } }),
    emit: (event) => emitter.emit(EVENTS[event], { payload: {} }),
  };
}

describe('CrashRestart', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('leaves a crash kafkajs restarts itself alone', async () => {
    const { consumer, crash } = fakeConsumer();
    const start = jest.fn(async () => undefined);
    const restart = new CrashRestart(consumer, start, () => undefined, { delayMs: 1_000 });
    crash(new Error('The coordinator is loading'), true);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(start).not.toHaveBeenCalled();
    expect(restart.notRunning()).toBeUndefined();
  });

  it('starts a consumer kafkajs gave up on again after the delay, and says why it is down meanwhile', async () => {
    const { consumer, crash } = fakeConsumer();
    const start = jest.fn(async () => undefined);
    const logged: string[] = [];
    const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), { delayMs: 1_000 });
    crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    expect(restart.notRunning()).toBe('the consumer stopped on an error kafkajs does not retry (KafkaJSNonRetriableError: Failed to find group coordinator); starting it again');
    await jest.advanceTimersByTimeAsync(999);
    expect(start).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(start).toHaveBeenCalledTimes(1);
    expect(restart.notRunning()).toBeUndefined();
    expect(logged).toEqual([
      'error: the consumer stopped on an error kafkajs does not retry (KafkaJSNonRetriableError: Failed to find group coordinator); starting it again in 1 s',
      'info: the consumer started again',
    ]);
  });

  it('tries again while starting fails, by a rejection or by another crash during the start', async () => {
    const { consumer, crash } = fakeConsumer();
    const outcomes = ['reject', 'crash', 'run'];
    const start = jest.fn(async () => {
      const outcome = outcomes.shift();
      if (outcome === 'reject') throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
      // kafkajs' run() resolves when joining the group failed, after reporting it as a crash.
      if (outcome === 'crash') crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    });
    const restart = new CrashRestart(consumer, start, () => undefined, { delayMs: 1_000 });
    crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(start).toHaveBeenCalledTimes(1);
    expect(restart.notRunning()).toContain('starting it again');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(start).toHaveBeenCalledTimes(2);
    expect(restart.notRunning()).toContain('starting it again');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(start).toHaveBeenCalledTimes(3);
    expect(restart.notRunning()).toBeUndefined();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(start).toHaveBeenCalledTimes(3);
  });

  it('lets a stop during a start wait for the start, so that the owner disconnects after it', async () => {
    const { consumer, crash } = fakeConsumer();
    let finishStart: () => void = () => undefined;
    const start = jest.fn(() => new Promise<void>((resolve) => (finishStart = resolve)));
    const logged: string[] = [];
    const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), { delayMs: 1_000 });
    crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(start).toHaveBeenCalledTimes(1);
    let stopped = false;
    const stopping = restart.stop().then(() => void (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finishStart();
    await stopping;
    expect(logged).toEqual([expect.stringMatching(/^error: the consumer stopped on an error kafkajs does not retry/)]);
  });

  it('does not start a consumer its owner is stopping', async () => {
    const { consumer, crash } = fakeConsumer();
    const start = jest.fn(async () => undefined);
    const restart = new CrashRestart(consumer, start, () => undefined, { delayMs: 1_000 });
    crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    await restart.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(start).not.toHaveBeenCalled();
  });

  describe('a consumer that stops fetching without an error', () => {
    const options = { delayMs: 1_000, stallAfterMs: 60_000, stopLimitMs: 10_000 };

    it('is stopped and started again once it gave no sign of life for stallAfterMs, and says why meanwhile', async () => {
      const stop = jest.fn(async () => undefined);
      const { consumer, emit } = fakeConsumer(stop);
      const start = jest.fn(async () => undefined);
      const logged: string[] = [];
      const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), options);
      emit('GROUP_JOIN');
      // Fetches are signs of life: 50 s of them, then silence.
      for (let second = 0; second < 50; second += 5) {
        emit('FETCH_START');
        await jest.advanceTimersByTimeAsync(5_000);
      }
      // The last sign came 5 s ago; the watch looks every 5 s.
      await jest.advanceTimersByTimeAsync(55_000);
      expect(stop).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(5_000);
      expect(stop).toHaveBeenCalledTimes(1);
      expect(start).not.toHaveBeenCalled();
      expect(restart.notRunning()).toMatch(/^the consumer gave no sign of life for 65 s with no batch in hand \(kafkajs stopped fetching without an error\); starting it again$/);
      expect(restart.wedged()).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1_000);
      expect(start).toHaveBeenCalledTimes(1);
      expect(restart.notRunning()).toBeUndefined();
      expect(logged).toEqual([expect.stringMatching(/^error: the consumer gave no sign of life/), 'info: the consumer started again']);
      await restart.stop();
    });

    it('is left alone while a batch is in hand (an outage waited out), before its first join, and after its owner stopped it', async () => {
      const stop = jest.fn(async () => undefined);
      const { consumer, emit } = fakeConsumer(stop);
      const restart = new CrashRestart(consumer, async () => undefined, () => undefined, options);
      await jest.advanceTimersByTimeAsync(120_000);
      expect(stop).not.toHaveBeenCalled();
      emit('GROUP_JOIN');
      emit('START_BATCH_PROCESS');
      emit('START_BATCH_PROCESS');
      emit('END_BATCH_PROCESS');
      await jest.advanceTimersByTimeAsync(120_000);
      expect(stop).not.toHaveBeenCalled();
      // The second batch ends: none in hand, but the owner stopped the consumer.
      emit('END_BATCH_PROCESS');
      await restart.stop();
      await jest.advanceTimersByTimeAsync(120_000);
      expect(stop).not.toHaveBeenCalled();
    });

    it('counts a crash kafkajs retries itself as a sign of life (a broker outage)', async () => {
      const stop = jest.fn(async () => undefined);
      const { consumer, emit, crash } = fakeConsumer(stop);
      const restart = new CrashRestart(consumer, async () => undefined, () => undefined, options);
      emit('GROUP_JOIN');
      for (let second = 0; second < 180; second += 30) {
        crash(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), true);
        await jest.advanceTimersByTimeAsync(30_000);
      }
      expect(stop).not.toHaveBeenCalled();
      await restart.stop();
    });

    it('is wedged when its stop does not finish: the liveness probe says so and nothing is started', async () => {
      const { consumer, emit } = fakeConsumer(() => new Promise<void>(() => undefined));
      const start = jest.fn(async () => undefined);
      const restart = new CrashRestart(consumer, start, () => undefined, options);
      emit('GROUP_JOIN');
      await jest.advanceTimersByTimeAsync(65_000);
      expect(restart.wedged()).toBeUndefined();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(restart.wedged()).toBe('the stalled consumer did not stop within 10 s: this process cannot consume again and needs a restart');
      expect(restart.notRunning()).toBe(restart.wedged());
      await jest.advanceTimersByTimeAsync(60_000);
      expect(start).not.toHaveBeenCalled();
      await restart.stop();
    });
  });
});
