import { randomUUID } from 'node:crypto';

/*
 * The kafka library's own integration tests cannot use @kairos/testing, which builds on this library (the module
 * boundary rule rejects the cycle). These three lines of harness are all they need from it.
 */

export function brokersFromHarness(): string {
  const brokers = process.env['KAFKA_BROKERS'];
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run integration tests through `npm test`, which starts the stack');
  return brokers;
}

export const uniqueTestName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
