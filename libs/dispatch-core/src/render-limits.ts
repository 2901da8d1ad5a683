/**
 * Bounds on one render, so a runaway template or context fails in milliseconds instead of stalling a partition.
 * Gmail clips a message body at 102 KB, so a legitimate mail is far below the output bound.
 */
export interface RenderLimits {
  /** #each iterations over the whole message (all loops, nested ones included, and all three parts). */
  maxIterations: number;
  /** Partial invocations per part; partials that include each other twice can otherwise double output per level. */
  maxPartialCalls: number;
  /** Characters of any part, checked while loops and partials build it, not only at the end. */
  maxOutputChars: number;
}

export const DEFAULT_RENDER_LIMITS: RenderLimits = { maxIterations: 10_000, maxPartialCalls: 1_000, maxOutputChars: 2_000_000 };
