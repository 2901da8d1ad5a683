/** A plain wait of `ms` (none when not positive). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * The idle wait of a worker loop that new work cuts short: `kick()` ends the wait in progress, and a kick that came
 * during a round (after `begin()`) makes the loop go round again instead of waiting.
 */
export class Wakeup {
  private kicked = false;
  private wake: (() => void) | undefined;

  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** The start of a round: kicks before it are what the round picks up. */
  begin(): void {
    this.kicked = false;
  }

  /** Whether work arrived during the round. */
  get pending(): boolean {
    return this.kicked;
  }

  async idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }
}
