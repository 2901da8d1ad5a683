import { ProfileUpdateRecord } from '@kairos/contracts';
import { emptyProfileState } from '@kairos/segmentation';
import { GatedJourneys, gateJourneys, GateInput, HOLD_LIMIT } from './merge-gate';
import { Effect } from './step-journeys';
import { catalogue, HOUR, journey, T0 } from './testing/journey-fixtures';

const cart = journey({
  id: 'abandoned-cart',
  trigger: { event: 'Cart Updated', unlessFollowedBy: { event: 'Order Completed', match: 'cartId', within: '4h' }, onlyIf: { consent: { channel: 'email', purpose: 'marketing' } } },
  reentry: { allow: 'always', activeInstances: 'onePerKey', key: 'cartId' },
  steps: [{ send: 'cart-reminder' }],
});
const journeys = catalogue([cart]);
const MINUTE = 60_000;

let sequence = 0;
const consent = { 'email.marketing': { grant: { at: 0, source: 'event', messageId: 'g' }, confirmation: { at: 1, source: 'event', messageId: 'c' } } };

/** The update segmentation emits for an event of `profileId` (consented to marketing mail). */
function event(profileId: string, name: string, at: number, properties: Record<string, unknown> = {}): ProfileUpdateRecord {
  const messageId = `m-${++sequence}`;
  return {
    updateId: `${profileId}/${messageId}`,
    profileId,
    at: new Date(at).toISOString(),
    input: { kind: 'event', event: { type: 'track', event: name, messageId, timestamp: new Date(at).toISOString(), profileId, properties } as never },
    state: { ...emptyProfileState(profileId), consent } as never,
    segments: {},
    changes: [],
  };
}

/** The loser's last update (it went to the survivor) and the survivor's merge mark, as segmentation emits them. */
const leave = (loser: string, survivor: string, at: number): ProfileUpdateRecord => ({ updateId: `${loser}/left`, profileId: loser, at: new Date(at).toISOString(), input: { kind: 'merge', loserId: loser, survivorId: survivor }, segments: {}, changes: [] });
const mark = (survivor: string, loser: string, at: number): ProfileUpdateRecord => ({ ...event(survivor, 'Merged', at), updateId: `${survivor}/merge/${loser}`, input: { kind: 'merge', loserId: loser } });

/** Profiles' states behind the gate, as the service keeps them; hand-overs go where they are addressed. */
class Profiles {
  readonly states = new Map<string, GatedJourneys>();
  readonly effects: Effect[] = [];
  readonly handOvers = new Map<string, { survivorId: string; state: GatedJourneys }>();
  private readonly redirects = new Map<string, string>();

  input(profileId: string, input: GateInput, at: number): void {
    const redirect = this.redirects.get(profileId);
    if (redirect !== undefined) return input.kind === 'hand-over' ? this.input(redirect, input, at) : undefined;
    const decision = gateJourneys(profileId, this.states.get(profileId), input, at, journeys);
    this.effects.push(...decision.effects.filter((effect) => effect.kind === 'dispatch' || effect.kind === 'outcome'));
    // Stored as JSON, as the state store keeps it.
    const state = JSON.parse(JSON.stringify(decision.state)) as GatedJourneys;
    if (decision.handOver) {
      this.states.delete(profileId);
      this.redirects.set(profileId, decision.handOver.survivorId);
      this.handOvers.set(profileId, { survivorId: decision.handOver.survivorId, state });
    } else this.states.set(profileId, state);
  }

  update(update: ProfileUpdateRecord): void {
    this.input(update.profileId, { kind: 'update', update }, Date.parse(update.at));
  }

  /** The hand-over `loser` made, delivered to its survivor. */
  deliver(loserId: string, at: number): void {
    const handOver = this.handOvers.get(loserId);
    if (!handOver) throw new Error(`${loserId} handed nothing over`);
    this.input(handOver.survivorId, { kind: 'hand-over', loserId, state: handOver.state }, at);
  }

  dispatches(): string[] {
    return this.effects.flatMap((effect) => (effect.kind === 'dispatch' ? [`${effect.request.profileId} ${effect.request.dispatchId}`] : []));
  }
}

/**
 * The loser left a cart at T0 and was merged into the survivor at T0 + 1 min; `order` says whether the survivor then
 * ordered that cart (T0 + 2 min); `handOverFirst` whether the loser's journeys reached the survivor's writer before
 * the survivor's merge mark or after its order.
 */
function mergedCart(order: boolean, handOverFirst: boolean): Profiles {
  const profiles = new Profiles();
  profiles.update(event('loser', 'Cart Updated', T0, { cartId: 'c1', products: [{ name: 'Lamp', price: 89 }] }));
  profiles.update(leave('loser', 'survivor', T0 + MINUTE));
  if (handOverFirst) profiles.deliver('loser', T0 + MINUTE);
  profiles.update(mark('survivor', 'loser', T0 + MINUTE));
  if (order) profiles.update(event('survivor', 'Order Completed', T0 + 2 * MINUTE, { cartId: 'c1', revenue: 89 }));
  if (!handOverFirst) profiles.deliver('loser', T0 + 3 * MINUTE);
  profiles.input('survivor', { kind: 'timer' }, T0 + 5 * HOUR);
  return profiles;
}

describe('the merge gate', () => {
  it('folds the loser at the survivor’s merge mark, so an order right after the merge cancels the loser’s cart reminder, whenever the hand-over arrives', () => {
    sequence = 0;
    const early = mergedCart(true, true);
    sequence = 0;
    const late = mergedCart(true, false);
    expect(early.dispatches()).toEqual([]);
    expect(late.dispatches()).toEqual([]);
    expect(late.states.get('survivor')).toEqual(early.states.get('survivor'));
    expect(late.states.get('survivor')?.foldedLosers).toEqual(['loser']);
  });

  it('without the order, the survivor gets the reminder with the same dispatch id either way, and the loser nothing', () => {
    sequence = 0;
    const early = mergedCart(false, true);
    sequence = 0;
    const late = mergedCart(false, false);
    expect(early.dispatches()).toHaveLength(1);
    expect(early.dispatches()[0]).toMatch(/^survivor /);
    expect(late.dispatches()).toEqual(early.dispatches());
    expect(late.effects).toEqual(early.effects);
  });

  it('holds the survivor’s updates (and its timer) after the mark until the hand-over comes, then decides them in order', () => {
    const profiles = new Profiles();
    profiles.update(leave('l2', 's2', T0));
    profiles.update(mark('s2', 'l2', T0));
    profiles.update(event('s2', 'Cart Updated', T0 + MINUTE, { cartId: 'c2', products: [] }));
    expect(profiles.states.get('s2')).toMatchObject({ awaiting: { losers: ['l2'], since: T0 } });
    expect(profiles.states.get('s2')?.held).toHaveLength(2);
    // A timer while it waits is the hold's limit, not a journey's: nothing is decided.
    const waiting = gateJourneys('s2', profiles.states.get('s2'), { kind: 'timer' }, T0 + HOLD_LIMIT.ms - 1, journeys);
    expect(waiting.state).toEqual(profiles.states.get('s2'));
    expect(waiting.effects).toEqual([{ kind: 'set-timer', dueAt: T0 + HOLD_LIMIT.ms }]);
    // The loser had no journeys: its hand-over is empty, and releases what waited.
    profiles.deliver('l2', T0 + 2 * MINUTE);
    const released = profiles.states.get('s2');
    expect(released?.awaiting).toBeUndefined();
    expect(released?.held).toBeUndefined();
    expect(released?.absences.map((absence) => absence.key)).toEqual(['c2']);
  });

  it('gives up after its limit and decides without the loser; the hand-over, when it comes at last, is folded then', () => {
    const profiles = new Profiles();
    profiles.update(event('l3', 'Cart Updated', T0, { cartId: 'c3', products: [] }));
    profiles.update(leave('l3', 's3', T0));
    profiles.update(mark('s3', 'l3', T0));
    profiles.input('s3', { kind: 'timer' }, T0 + HOLD_LIMIT.ms);
    expect(profiles.states.get('s3')).toMatchObject({ late: ['l3'] });
    expect(profiles.states.get('s3')?.awaiting).toBeUndefined();
    profiles.deliver('l3', T0 + HOLD_LIMIT.ms + MINUTE);
    expect(profiles.states.get('s3')?.foldedLosers).toEqual(['l3']);
    expect(profiles.states.get('s3')?.late).toBeUndefined();
    expect(profiles.states.get('s3')?.absences.map((absence) => absence.key)).toEqual(['c3']);
  });

  it('folds a loser once: a second copy of its hand-over changes nothing', () => {
    sequence = 0;
    const profiles = mergedCart(false, true);
    const before = profiles.states.get('survivor');
    profiles.deliver('loser', T0 + 6 * HOUR);
    expect(profiles.states.get('survivor')).toEqual(before);
  });

  it('lets an erasure through at once: what waited is dropped, nothing is decided for it', () => {
    const profiles = new Profiles();
    profiles.update(mark('s4', 'l4', T0));
    profiles.update(event('s4', 'Cart Updated', T0 + MINUTE, { cartId: 'c4', products: [] }));
    profiles.update({ updateId: 's4/erased', profileId: 's4', at: new Date(T0 + 2 * MINUTE).toISOString(), input: { kind: 'erasure' }, segments: {}, changes: [] });
    const state = profiles.states.get('s4');
    expect(state?.awaiting).toBeUndefined();
    expect(state?.held).toBeUndefined();
    expect(state?.absences).toEqual([]);
  });

  it('carries hand-overs a loser kept to its own survivor (a chain), where the mark naming them finds them', () => {
    const profiles = new Profiles();
    profiles.update(event('a', 'Cart Updated', T0, { cartId: 'ca', products: [] }));
    profiles.update(leave('a', 'b', T0));
    profiles.deliver('a', T0); // b's stream does not name a: segmentation folded it into c, b's survivor
    profiles.update(leave('b', 'c', T0 + MINUTE));
    profiles.update(mark('c', 'a', T0 + MINUTE));
    expect(profiles.states.get('c')?.awaiting).toEqual({ losers: ['a'], since: T0 + MINUTE });
    profiles.deliver('b', T0 + 2 * MINUTE);
    expect(profiles.states.get('c')?.foldedLosers).toEqual(['a']);
    expect(profiles.states.get('c')?.absences.map((absence) => absence.key)).toEqual(['ca']);
    // b's own mark comes later; b's journeys were kept and are folded there.
    profiles.update(mark('c', 'b', T0 + 3 * MINUTE));
    expect(profiles.states.get('c')?.foldedLosers).toEqual(['a', 'b']);
  });

  it('waits for the hand-over also when the login that merged them is stamped hours before the survivor’s next event', () => {
    const profiles = new Profiles();
    profiles.update(event('l5', 'Cart Updated', T0 - 10 * MINUTE, { cartId: 'c5', products: [{ name: 'Lamp', price: 89 }] }));
    profiles.update(leave('l5', 's5', T0));
    profiles.update(mark('s5', 'l5', T0)); // an app offline for two hours sent its login late
    // The partition's time is two hours on: the survivor's timer comes due before its next record.
    profiles.input('s5', { kind: 'timer' }, T0 + 2 * HOUR);
    profiles.update(event('s5', 'Order Completed', T0 + 2 * HOUR, { cartId: 'c5', revenue: 89 }));
    profiles.deliver('l5', T0);
    profiles.input('s5', { kind: 'timer' }, T0 + 6 * HOUR);
    expect(profiles.dispatches()).toEqual([]);
    expect(profiles.states.get('s5')?.foldedLosers).toEqual(['l5']);
  });

  it('folds the journeys of a loser’s own given-up loser when they reach the survivor first', () => {
    const profiles = new Profiles();
    profiles.update(event('x', 'Cart Updated', T0, { cartId: 'cx', products: [] }));
    profiles.update(leave('x', 'l6', T0 + MINUTE));
    profiles.update(mark('l6', 'x', T0 + MINUTE));
    profiles.input('l6', { kind: 'timer' }, T0 + MINUTE + HOLD_LIMIT.ms); // l6 gives up on x
    expect(profiles.states.get('l6')?.late).toEqual(['x']);
    profiles.update(leave('l6', 's6', T0 + HOLD_LIMIT.ms + HOUR));
    profiles.deliver('x', T0 + HOLD_LIMIT.ms + HOUR); // along l6's redirect to s6, before s6 folds l6
    profiles.deliver('l6', T0 + HOLD_LIMIT.ms + HOUR);
    profiles.update(mark('s6', 'l6', T0 + HOLD_LIMIT.ms + HOUR));
    const survivor = profiles.states.get('s6');
    expect(survivor?.foldedLosers).toEqual(['l6', 'x']);
    expect(survivor?.arrived).toBeUndefined();
    expect(survivor?.late).toBeUndefined();
    // x's cart came with it: its deadline long past, it is decided at once, for the survivor.
    expect(profiles.dispatches()).toEqual([expect.stringMatching(/^s6 /)]);
  });

  it('folds a hand-over whose merge mark never comes once the limit has passed in the survivor’s stream', () => {
    const profiles = new Profiles();
    profiles.update(event('l7', 'Cart Updated', T0, { cartId: 'c7', products: [] }));
    profiles.update(leave('l7', 's7', T0));
    profiles.deliver('l7', T0);
    profiles.update(event('s7', 'Page Viewed', T0 + HOUR));
    expect(Object.keys(profiles.states.get('s7')?.arrived ?? {})).toEqual(['l7']);
    profiles.update(event('s7', 'Page Viewed', T0 + HOLD_LIMIT.ms));
    expect(profiles.states.get('s7')?.foldedLosers).toEqual(['l7']);
    expect(profiles.states.get('s7')?.arrived).toBeUndefined();
  });

  it('holds at most HOLD_LIMIT.updates of the survivor’s updates, then decides them without the loser', () => {
    const profiles = new Profiles();
    profiles.update(mark('s8', 'l8', T0));
    for (let index = 1; index < HOLD_LIMIT.updates - 1; index++) profiles.update(event('s8', 'Page Viewed', T0 + index));
    expect(profiles.states.get('s8')?.held).toHaveLength(HOLD_LIMIT.updates - 1);
    expect(profiles.states.get('s8')?.awaiting).toBeDefined();
    profiles.update(event('s8', 'Page Viewed', T0 + HOLD_LIMIT.updates));
    expect(profiles.states.get('s8')).toMatchObject({ late: ['l8'] });
    expect(profiles.states.get('s8')?.held).toBeUndefined();
  });
});
