import { EventEmitter } from 'node:events';
import { Consumer, KafkaJSNonRetriableError } from 'kafkajs';
import { CrashRestart } from './crash-restart';

const EVENTS = {
  CRASH: 'consumer.crash',
  STOP: 'consumer.stop',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
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

    /** A watched consumer whose stop ends at once and whose start succeeds. */
    function watched() {
      const stop = jest.fn(async () => undefined);
      const { consumer, emit, crash } = fakeConsumer(stop);
      return { stop, emit, crash, restart: new CrashRestart(consumer, async () => undefined, () => undefined, options) };
    }

    it('is stopped and started again once it gave no sign of life for stallAfterMs, and says why meanwhile', async () => {
      const stop = jest.fn(async () => undefined);
      const { consumer, emit } = fakeConsumer(stop);
      const start = jest.fn(async () => undefined);
      const logged: string[] = [];
      const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), options);
      emit('CONNECT');
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

    it('is left alone while a batch is in hand (an outage waited out), also one that ends by throwing', async () => {
      const { stop, emit, restart } = watched();
      emit('GROUP_JOIN');
      let endBatch: (error?: Error) => void = () => undefined;
      const batch = restart.holding(() => new Promise<void>((resolve, reject) => (endBatch = (error) => (error ? reject(error) : resolve()))));
      await jest.advanceTimersByTimeAsync(200_000);
      expect(stop).not.toHaveBeenCalled();
      // A heartbeat refused in a rebalance ends the batch by throwing; kafkajs rejoins without a crash or a stop.
      endBatch(new Error('The group is rebalancing'));
      await expect(batch).rejects.toThrow('The group is rebalancing');
      await jest.advanceTimersByTimeAsync(65_000);
      expect(stop).toHaveBeenCalledTimes(1);
      await restart.stop();
    });

    it('is left alone before its first join, while a join takes up to five times as long, and after its owner stopped it', async () => {
      const { stop, emit, restart } = watched();
      emit('CONNECT');
      await jest.advanceTimersByTimeAsync(400_000);
      emit('GROUP_JOIN');
      emit('REBALANCING');
      await jest.advanceTimersByTimeAsync(295_000);
      expect(stop).not.toHaveBeenCalled();
      emit('GROUP_JOIN');
      await restart.stop();
      await jest.advanceTimersByTimeAsync(400_000);
      expect(stop).not.toHaveBeenCalled();
    });

    it('is stopped and started again when a rebalance never ends in a join', async () => {
      const { stop, emit, restart } = watched();
      emit('GROUP_JOIN');
      emit('REBALANCING');
      await jest.advanceTimersByTimeAsync(295_000);
      expect(stop).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(stop).toHaveBeenCalledTimes(1);
      await restart.stop();
    });

    it('counts a crash kafkajs retries itself as a sign of life (a broker outage)', async () => {
      const { stop, emit, crash, restart } = watched();
      emit('GROUP_JOIN');
      for (let second = 0; second < 180; second += 30) {
        crash(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), true);
        await jest.advanceTimersByTimeAsync(30_000);
      }
      expect(stop).not.toHaveBeenCalled();
      await restart.stop();
    });

    it('is wedged while its stop does not finish (the liveness probe says so), and started again once it does', async () => {
      let finishStop: () => void = () => undefined;
      const { consumer, emit } = fakeConsumer(() => new Promise<void>((resolve) => (finishStop = resolve)));
      const start = jest.fn(async () => undefined);
      const logged: string[] = [];
      const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), options);
      emit('GROUP_JOIN');
      await jest.advanceTimersByTimeAsync(65_000);
      expect(restart.notRunning()).toContain('gave no sign of life');
      expect(restart.wedged()).toBeUndefined();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(restart.wedged()).toBe('the stalled consumer did not stop within 10 s: this process cannot consume until it does, and may need a restart');
      expect(restart.notRunning()).toBe(restart.wedged());
      await jest.advanceTimersByTimeAsync(60_000);
      expect(start).not.toHaveBeenCalled();
      finishStop();
      await jest.advanceTimersByTimeAsync(1_000);
      expect(restart.wedged()).toBeUndefined();
      expect(start).toHaveBeenCalledTimes(1);
      expect(restart.notRunning()).toBeUndefined();
      expect(logged.slice(-2)).toEqual(['info: the stalled consumer stopped after all', 'info: the consumer started again']);
      await restart.stop();
    });

    it('does not take a held event loop for a stall', async () => {
      const { stop, emit, restart } = watched();
      emit('GROUP_JOIN');
      // The clock jumps 100 s with no timer run in between, as when the loop is blocked or the VM paused.
      jest.setSystemTime(Date.now() + 100_000);
      jest.spyOn(performance, 'now').mockReturnValue(performance.now() + 100_000);
      await jest.advanceTimersByTimeAsync(5_000);
      expect(stop).not.toHaveBeenCalled();
      jest.restoreAllMocks();
      await restart.stop();
    });
  });
});
