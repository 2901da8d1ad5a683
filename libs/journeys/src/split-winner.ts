import { errorFunction } from 'simple-statistics';
import { CompiledJourney } from './compiled-journey';

/** A split's `winner`: how sure, on how many recipients per variant, before everyone gets the leading variant. */
export interface SplitWinnerRule {
  /** 0.95: the leader beats every other variant at p < 0.05. */
  confidence: number;
  minimumPerVariant: number;
}

/**
 * Per variant: instances that entered it and finished, counted once their goal window closed (stepJourneys' `split-sample`
 * effects), and how many of them reached the goal. Every sample is counted at the same distance from entry: counted
 * earlier, a variant whose conversions come later would be judged before they could come.
 */
export interface VariantTally {
  recipients: number;
  conversions: number;
}

export type SplitTally = Record<string, VariantTally>;

/** A decided split: from `effectiveAt` on (event time), an instance not in the control group gets `variant`. */
export interface SplitWinner {
  variant: string;
  effectiveAt: number;
}

/** The one test of a split: a winner, or none (the weights stay); `pValue` is the leader's largest against another. */
export interface SplitDecision {
  winner?: string;
  pValue: number;
}

/**
 * The test of a split, once every variant has `minimumPerVariant` finished recipients; undefined before. It is made
 * once, at that sample size (looking again and again as counts grow would find a "winner" between equal variants
 * sooner or later): the leader (highest conversion rate) wins if it beats each other variant in a two-by-two
 * chi-squared test (converted or not, one degree of freedom, no continuity correction) at p < 1 - confidence; otherwise
 * the split has no winner. Against several variants each comparison must pass on its own.
 */
export function decideSplitWinner(variants: readonly string[], tally: SplitTally, rule: SplitWinnerRule): SplitDecision | undefined {
  if (variants.length < 2) return undefined;
  const counts = variants.map((name) => ({ name, recipients: tally[name]?.recipients ?? 0, conversions: Math.min(tally[name]?.conversions ?? 0, tally[name]?.recipients ?? 0) }));
  if (counts.some((count) => count.recipients < rule.minimumPerVariant)) return undefined;
  const rate = (count: (typeof counts)[number]) => count.conversions / count.recipients;
  const [leader, ...others] = [...counts].sort((a, b) => rate(b) - rate(a));
  let pValue = 0;
  for (const other of others) pValue = Math.max(pValue, rate(other) >= rate(leader) ? 1 : twoByTwoPValue(leader.conversions, leader.recipients, other.conversions, other.recipients));
  return pValue < 1 - rule.confidence ? { winner: leader.name, pValue } : { pValue };
}

/** p of Pearson's chi-squared statistic for two proportions (a of n against b of m), one degree of freedom. */
export function twoByTwoPValue(a: number, n: number, b: number, m: number): number {
  const converted = a + b;
  const total = n + m;
  const notConverted = total - converted;
  if (converted === 0 || notConverted === 0) return 1;
  const statistic = (total * (a * (m - b) - b * (n - a)) ** 2) / (n * m * converted * notConverted);
  // The chi-squared distribution with one degree of freedom: P(X > x) = erfc(sqrt(x / 2)).
  return 1 - errorFunction(Math.sqrt(statistic / 2));
}

const TALLY_PREFIX = 'split-tally/';

/**
 * Where one partition keeps its share of a split's tally in the journeys store: a key of its own per partition, so
 * the share commits with the instances it counts (a redelivery or a crash counts nothing twice) and no two writers
 * share a row. The decider adds the partitions' shares.
 */
export function splitTallyKey(journeyId: string, version: number, stepId: string, partition: number): string {
  return `${TALLY_PREFIX}${journeyId}@${version}/${stepId}/p${partition}`;
}

/** A split with a winner rule in a journey version: the one the tally counts (a journey may have one). */
export function winnerSplit(journey: CompiledJourney | undefined): { stepId: string; variants: string[]; rule: SplitWinnerRule } | undefined {
  for (const [stepId, node] of Object.entries(journey?.steps ?? {})) {
    if (node.kind === 'split' && node.winner) return { stepId, variants: node.variants.map((variant) => variant.name), rule: node.winner };
  }
  return undefined;
}
