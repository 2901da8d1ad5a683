/**
 * Stops the stack global-setup started: SIGTERM lets it stop Kafka and PostgreSQL and remove their data.
 * Jest loads this file with Node's own require, where the @kairos/* aliases do not resolve, so it imports nothing.
 */
export default async function globalTeardown(): Promise<void> {
  const child = globalThis.__KAIROS_STACK__;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}
