import { EngagementLevel, LifecycleStage } from './rule';
import { ProfileModel, seriesKey } from './profile-model';
import { ProfileState } from './profile-state';
import { SeriesValue, earliest } from './series';

/**
 * The lifecycle stage at `now`. A customer (at least one purchase) is a customer or repeat customer while the last
 * order is recent, then at risk, then lapsed; anyone else is new for a while after first being seen, active while
 * they keep coming, then at risk and lapsed by the same clock on their last activity.
 */
export function lifecycleStage(state: ProfileState, model: ProfileModel, now: number): SeriesValue<LifecycleStage> {
  const config = model.lifecycle;
  const orders = state.series[seriesKey({ event: config.purchaseEvent, where: [] })];
  const crossing = (since: number | undefined, after: number): number[] => (since !== undefined && since + after + 1 > now ? [since + after + 1] : []);
  if (orders !== undefined && orders.count > 0) {
    const since = now - orders.lastAt;
    const changesAt = earliest([...crossing(orders.lastAt, config.customerActiveWithin), ...crossing(orders.lastAt, config.lapsedAfter)]);
    if (since <= config.customerActiveWithin) return { value: orders.count >= config.repeatFrom ? 'repeat-customer' : 'customer', changesAt };
    return { value: since <= config.lapsedAfter ? 'at-risk' : 'lapsed', changesAt };
  }
  const first = state.firstSeenAt;
  const last = state.lastActivityAt ?? state.lastSeenAt;
  const changesAt = earliest([...crossing(first, config.newFor), ...crossing(last, config.activeWithin), ...crossing(last, config.lapsedAfter)]);
  if (first !== undefined && now - first <= config.newFor) return { value: 'new', changesAt };
  if (last !== undefined && now - last <= config.activeWithin) return { value: 'active', changesAt };
  if (last !== undefined && now - last <= config.lapsedAfter) return { value: 'at-risk', changesAt };
  return { value: 'lapsed', changesAt };
}

/** Engagement points (e-mail opens and clicks, visits) within the model's window, and when one leaves it. */
export function engagementPoints(state: ProfileState, model: ProfileModel, now: number): SeriesValue<number> {
  const width = model.engagementBucket;
  let points = 0;
  const changes: number[] = [];
  for (const [key, value] of Object.entries(state.engagement)) {
    const start = Number(key);
    if (start > now) changes.push(start);
    else if (start + width > now - model.engagement.window) {
      points += value;
      changes.push(start + width + model.engagement.window);
    }
  }
  return { value: points, changesAt: earliest(changes) };
}

export function engagementLevel(state: ProfileState, model: ProfileModel, now: number): SeriesValue<EngagementLevel> {
  const { value, changesAt } = engagementPoints(state, model, now);
  const level = value >= model.engagement.high ? 'high' : value >= model.engagement.moderate ? 'moderate' : 'passive';
  return { value: level, changesAt };
}

/** A weighted score at `now`: points per event, each halving every half-life after its bucket's start. */
export function scoreValue(buckets: Record<string, number> | undefined, halfLife: number | undefined, now: number): number {
  let total = 0;
  for (const [start, points] of Object.entries(buckets ?? {})) {
    if (halfLife === undefined) total += points;
    else if (Number(start) <= now) total += points * Math.pow(2, -(now - Number(start)) / halfLife);
  }
  return total;
}
