import { writeFileSync } from 'node:fs';
import type { Output } from './stateful-processor';

/**
 * Fault injection for the crash tests, at the one place a stateful stage's guarantee hinges on: its outputs are
 * acknowledged by the broker and its state is not yet committed. With KAIROS_CRASH_BEFORE_COMMIT=<topic>, the
 * process kills itself (SIGKILL, as `kill -9` would) right before committing a transaction whose published outputs
 * include a record for <topic>; KAIROS_CRASH_ONCE_FILE makes it once (the file is written first, so the restarted
 * process carries on). Unset, as in every deployment, it costs one comparison per commit.
 */
export function crashBeforeCommitIfAsked(outputs: readonly Output[]): void {
  const topic = process.env['KAIROS_CRASH_BEFORE_COMMIT'];
  if (!topic || !outputs.some((output) => output.topic === topic)) return;
  const once = process.env['KAIROS_CRASH_ONCE_FILE'];
  if (once) {
    try {
      writeFileSync(once, `crashed before a commit publishing to ${topic} at ${new Date().toISOString()}\n`, { flag: 'wx' });
    } catch {
      return; // there already (crashed before), or not writable: no crash rather than one on every retry
    }
  }
  process.kill(process.pid, 'SIGKILL');
}
