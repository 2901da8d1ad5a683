import { EventEmitter } from 'node:events';
import { Consumer, KafkaJSNonRetriableError } from 'kafkajs';
import { CrashRestart } from './crash-restart';

/** The part of a kafkajs consumer CrashRestart uses: its CRASH instrumentation event. */
function fakeConsumer(): { consumer: Consumer; crash(error: Error, restart: boolean): void } {
  const emitter = new EventEmitter();
  const consumer = { events: { CRASH: 'consumer.crash' }, on: (event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener) } as unknown as Consumer;
  return { consumer, crash: (error, restart) => emitter.emit('consumer.crash', { payload: { error, restart } }) };
}

describe('CrashRestart', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('leaves a crash kafkajs restarts itself alone', async () => {
    const { consumer, crash } = fakeConsumer();
    const start = jest.fn(async () => undefined);
    const restart = new CrashRestart(consumer, start, () => undefined, 1_000);
    crash(new Error('The coordinator is loading'), true);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(start).not.toHaveBeenCalled();
    expect(restart.notRunning()).toBeUndefined();
  });

  it('starts a consumer kafkajs gave up on again after the delay, and says why it is down meanwhile', async () => {
    const { consumer, crash } = fakeConsumer();
    const start = jest.fn(async () => undefined);
    const logged: string[] = [];
    const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), 1_000);
    crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    expect(restart.notRunning()).toBe('the consumer stopped on an error kafkajs does not retry (KafkaJSNonRetriableError: Failed to find group coordinator); starting it again');
    await jest.advanceTimersByTimeAsync(999);
    expect(start).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(start).toHaveBeenCalledTimes(1);
    expect(restart.notRunning()).toBeUndefined();
    expect(logged).toEqual([
      'error: the consumer stopped on an error kafkajs does not retry (KafkaJSNonRetriableError: Failed to find group coordinator); starting it again in 1 s',
      'info: the consumer started again after its crash',
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
    const restart = new CrashRestart(consumer, start, () => undefined, 1_000);
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
    const restart = new CrashRestart(consumer, start, (level, message) => logged.push(`${level}: ${message}`), 1_000);
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
    const restart = new CrashRestart(consumer, start, () => undefined, 1_000);
    crash(new KafkaJSNonRetriableError('Failed to find group coordinator'), false);
    await restart.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(start).not.toHaveBeenCalled();
  });
});
