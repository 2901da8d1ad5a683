import { Identifier } from '@kairos/contracts';

/** How identifiers of one type behave in the graph. */
export interface IdentityRule {
  type: string;
  /** 1 is the strongest. When a merge is forbidden, the event's weakest identifier type is demoted first. */
  priority: number;
  /** Values of this type one profile may hold: in all, or linked within any `windowMs` span. */
  limit: number;
  windowMs?: number;
  /** A unique identifier belongs to one profile only; others may be shared by several (a family e-mail, a shop tablet). */
  unique: boolean;
}

export interface IdentityRulesOptions {
  rules?: Array<Partial<IdentityRule> & { type: string }>;
  /** Extra blocked values, e.g. the shop's test addresses; compared case-insensitively after trimming. */
  blockedValues?: string[];
  /** Rule for custom id types no rule names. */
  defaultRule?: Omit<IdentityRule, 'type'>;
  caps?: Partial<GraphCaps>;
}

export interface GraphCaps {
  /** Merges one profile may absorb, transitively. */
  mergesPerProfile: number;
  identifiersPerProfile: number;
  /** An identifier linked to this many profiles gets no new links and matches nothing (team@company.com). */
  profilesPerIdentifier: number;
}

const DAY = 24 * 60 * 60 * 1000;

export const DEFAULT_RULES: readonly IdentityRule[] = [
  { type: 'user_id', priority: 1, limit: 1, unique: true },
  { type: 'email', priority: 2, limit: 5, unique: false },
  { type: 'phone', priority: 3, limit: 5, unique: false },
  { type: 'advertising_id', priority: 5, limit: 5, windowMs: 365 * DAY, unique: false },
  { type: 'device_id', priority: 5, limit: 5, windowMs: 365 * DAY, unique: false },
  { type: 'anonymous_id', priority: 6, limit: 5, windowMs: 7 * DAY, unique: false },
];

/** Custom ids (context.externalIds) rank between phone and devices unless a rule says otherwise. */
export const DEFAULT_CUSTOM_RULE: Omit<IdentityRule, 'type'> = { priority: 4, limit: 5, unique: false };

export const DEFAULT_CAPS: GraphCaps = { mergesPerProfile: 100, identifiersPerProfile: 1000, profilesPerIdentifier: 50 };

/** Values SDKs and forms send when they have no real id; never used to match. */
const BLOCKED_PATTERNS: readonly RegExp[] = [/^[0-]*$/, /^-1$/, /^(null|undefined|anonymous|invalid|empty)$/i, /^\s*$/];

export class IdentityRules {
  readonly caps: GraphCaps;
  private readonly rules: Map<string, IdentityRule>;
  private readonly defaultRule: Omit<IdentityRule, 'type'>;
  private readonly blocked: Set<string>;

  constructor(options: IdentityRulesOptions = {}) {
    this.rules = new Map(DEFAULT_RULES.map((rule) => [rule.type, rule]));
    this.defaultRule = options.defaultRule ?? DEFAULT_CUSTOM_RULE;
    for (const rule of options.rules ?? []) {
      const base = this.rules.get(rule.type) ?? { ...this.defaultRule, type: rule.type };
      const merged = { ...base, ...rule };
      if (!(merged.limit >= 1) || !(merged.priority >= 1)) throw new Error(`identity rule for ${rule.type}: limit and priority must be at least 1`);
      this.rules.set(rule.type, merged);
    }
    this.blocked = new Set((options.blockedValues ?? []).map((value) => value.trim().toLowerCase()));
    this.caps = { ...DEFAULT_CAPS, ...options.caps };
  }

  ruleFor(type: string): IdentityRule {
    return this.rules.get(type) ?? { ...this.defaultRule, type };
  }

  isBlocked(identifier: Identifier): boolean {
    const value = identifier.value.trim().toLowerCase();
    return this.blocked.has(value) || BLOCKED_PATTERNS.some((pattern) => pattern.test(value));
  }

  /** The identifier types of `identifiers`, weakest first (highest priority number; ties by type name, so it is deterministic). */
  weakestFirst(identifiers: readonly Identifier[]): string[] {
    const types = [...new Set(identifiers.map((identifier) => identifier.type))];
    return types.sort((a, b) => this.ruleFor(b).priority - this.ruleFor(a).priority || (a < b ? 1 : a > b ? -1 : 0));
  }
}

/** Whether more than `limit` of the times fall within one `windowMs` span (or in all, without a window). */
export function exceedsLimit(times: readonly number[], rule: Pick<IdentityRule, 'limit' | 'windowMs'>): boolean {
  if (times.length <= rule.limit) return false;
  if (rule.windowMs === undefined) return true;
  const sorted = [...times].sort((a, b) => a - b);
  // limit + 1 values within one span: the value `limit` places after another is less than a window later.
  return sorted.some((time, end) => end >= rule.limit && time - (sorted[end - rule.limit] ?? time) < (rule.windowMs ?? 0));
}
