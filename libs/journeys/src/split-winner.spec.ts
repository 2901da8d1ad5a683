import { ProfileUpdateRecord } from '@kairos/contracts';
import { emptyProfileState } from '@kairos/segmentation';
import { compileJourney } from './compiled-journey';
import { emptyJourneysState, mergeJourneysStates, nextDueAt } from './journeys-state';
import { decideSplitWinner, splitTallyKey, twoByTwoPValue } from './split-winner';
import { Effect, splitPick, stepJourneys } from './step-journeys';
import { catalogue, DAY, HOUR, iso, journey, run, T0, track } from './testing/journey-fixtures';

const rule = { confidence: 0.95, minimumPerVariant: 500 };

describe('the automatic A/B winner', () => {
  it('computes the p-value of the two-by-two chi-squared test', () => {
    // 60/500 against 35/500: p = 0.0070 (scipy.stats.chi2_contingency(correction=False)).
    expect(twoByTwoPValue(60, 500, 35, 500)).toBeCloseTo(0.00701, 5);
    // Equal rates: no difference at all.
    expect(twoByTwoPValue(50, 500, 50, 500)).toBeCloseTo(1, 6);
    // Nobody (or everybody) converted: nothing to tell the variants apart by.
    expect(twoByTwoPValue(0, 500, 0, 500)).toBe(1);
    expect(twoByTwoPValue(500, 500, 500, 500)).toBe(1);
  });

  it('names the leader when it is ahead of every other variant with the stated confidence', () => {
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 500, conversions: 60 }, b: { recipients: 500, conversions: 35 } }, rule)).toEqual({ winner: 'a', pValue: expect.closeTo(0.00701, 5) });
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 500, conversions: 35 }, b: { recipients: 500, conversions: 60 } }, rule)?.winner).toBe('b');
  });

  it('decides nothing before the sample size; at it, a lead that is not significant means no winner', () => {
    // Significant, but b has too few finished recipients: no decision yet.
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 500, conversions: 60 }, b: { recipients: 499, conversions: 20 } }, rule)).toBeUndefined();
    // A variant nobody finished yet.
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 900, conversions: 90 } }, rule)).toBeUndefined();
    // Ahead, but not significantly (p = 0.22): the test is made, and there is no winner.
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 500, conversions: 50 }, b: { recipients: 500, conversions: 39 } }, rule)).toEqual({ pValue: expect.closeTo(0.2218, 3) });
    // The confidence asked for decides (p = 0.0070 passes 0.99, 0.22 passes 0.75).
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 500, conversions: 60 }, b: { recipients: 500, conversions: 35 } }, { ...rule, confidence: 0.99 })?.winner).toBe('a');
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 500, conversions: 50 }, b: { recipients: 500, conversions: 39 } }, { ...rule, confidence: 0.75 })?.winner).toBe('a');
    // A tie.
    expect(decideSplitWinner(['a', 'b'], { a: { recipients: 600, conversions: 60 }, b: { recipients: 600, conversions: 60 } }, rule)).toEqual({ pValue: 1 });
  });

  it('with three variants, the leader must beat each of the others', () => {
    const close = { a: { recipients: 500, conversions: 60 }, b: { recipients: 500, conversions: 55 }, c: { recipients: 500, conversions: 20 } };
    expect(decideSplitWinner(['a', 'b', 'c'], close, rule)?.winner).toBeUndefined();
    const clear = { ...close, b: { recipients: 500, conversions: 30 } };
    expect(decideSplitWinner(['a', 'b', 'c'], clear, rule)?.winner).toBe('a');
  });

  describe('samples', () => {
    const ab = journey({
      id: 'ab',
      trigger: { event: 'Cart Updated' },
      reentry: { allow: 'always', activeInstances: 'unlimited' },
      goal: { event: 'Order Completed', within: '2d' },
      steps: [{ split: { variants: [{ name: 'a', weight: 1, steps: [] }, { name: 'b', weight: 1, steps: [] }], control: 1, winner: { confidence: 0.95, minimumPerVariant: 500 } } }],
    });
    const abCatalogue = catalogue([ab]);
    function update(profileId: string, updateId: string, at: number, name: string): ProfileUpdateRecord {
      return { updateId, profileId, at: iso(at), input: { kind: 'event', event: { type: 'track', event: name, messageId: updateId, timestamp: iso(at), properties: {} } as never }, state: emptyProfileState(profileId) as never, segments: {}, changes: [] };
    }
    const samples = (effects: readonly Effect[]) => effects.flatMap((effect) => (effect.kind === 'split-sample' ? [effect.sample] : []));
    /** A profile the hash puts in `variant`. */
    const profileIn = (variant: string) => Array.from({ length: 100 }, (_, n) => `p${n}`).find((profileId) => splitPick('ab', '0', profileId, [{ name: 'a', weight: 1, first: '' }, { name: 'b', weight: 1, first: '' }], 1).name === variant) as string;

    it('a conversion counts when the goal window closes, as a non-conversion does: never earlier', () => {
      const buyer = profileIn('a');
      const entered = stepJourneys(undefined, { kind: 'update', update: update(buyer, 'u1', T0, 'Cart Updated') }, T0, abCatalogue);
      const converted = stepJourneys(entered.state, { kind: 'update', update: update(buyer, 'u2', T0 + HOUR, 'Order Completed') }, T0 + HOUR, abCatalogue);
      expect(converted.effects).toContainEqual(expect.objectContaining({ kind: 'outcome', outcome: expect.objectContaining({ kind: 'goal-reached', variant: 'a' }) }));
      expect(samples(converted.effects)).toEqual([]);
      // The profile's timer comes at the window's end, and the sample with it.
      expect(converted.effects).toContainEqual({ kind: 'set-timer', dueAt: T0 + 2 * DAY });
      const closed = stepJourneys(converted.state, { kind: 'timer' }, T0 + 2 * DAY, abCatalogue);
      expect(samples(closed.effects)).toEqual([{ journeyId: 'ab', version: 1, stepId: '0', variant: 'a', converted: true, at: T0 + 2 * DAY }]);
      expect(closed.state.samples).toBeUndefined();

      const browser = profileIn('b');
      const waiting = stepJourneys(undefined, { kind: 'update', update: update(browser, 'u3', T0, 'Cart Updated') }, T0, abCatalogue);
      expect(samples(waiting.effects)).toEqual([]);
      const expired = stepJourneys(waiting.state, { kind: 'timer' }, T0 + 2 * DAY, abCatalogue);
      expect(samples(expired.effects)).toEqual([{ journeyId: 'ab', version: 1, stepId: '0', variant: 'b', converted: false, at: T0 + 2 * DAY }]);
    });

    it('an instance still running when its goal window closes counts then, as not converted, and not again when it ends', () => {
      const slow = journey({
        id: 'slow',
        trigger: { event: 'Cart Updated' },
        goal: { event: 'Order Completed', within: '2d' },
        steps: [{ split: { variants: [{ name: 'a', weight: 1, steps: [{ wait: '7d' }, { send: 'promo' }] }, { name: 'b', weight: 1, steps: [] }], winner: { confidence: 0.95, minimumPerVariant: 500 } } }],
      });
      const slowCatalogue = catalogue([slow]);
      const profileId = Array.from({ length: 100 }, (_, n) => `p${n}`).find((candidate) => splitPick('slow', '0', candidate, [{ name: 'a', weight: 1, first: '' }, { name: 'b', weight: 1, first: '' }], 0).name === 'a') as string;
      const entered = stepJourneys(undefined, { kind: 'update', update: update(profileId, 'u1', T0, 'Cart Updated') }, T0, slowCatalogue);
      expect(entered.effects).toContainEqual({ kind: 'set-timer', dueAt: T0 + 2 * DAY + 1 });
      const closed = stepJourneys(entered.state, { kind: 'timer' }, T0 + 2 * DAY + 1, slowCatalogue);
      expect(samples(closed.effects)).toEqual([{ journeyId: 'slow', version: 1, stepId: '0', variant: 'a', converted: false, at: T0 + 2 * DAY }]);
      expect(closed.effects).toContainEqual({ kind: 'set-timer', dueAt: T0 + 7 * DAY });
      const ended = stepJourneys(closed.state, { kind: 'timer' }, T0 + 7 * DAY, slowCatalogue);
      expect(ended.effects).toContainEqual(expect.objectContaining({ kind: 'outcome', outcome: expect.objectContaining({ kind: 'exited', detail: { reason: 'completed' } }) }));
      expect(samples(ended.effects)).toEqual([]);
    });

    it('a sample already due when the next input comes is counted once, before it', () => {
      const buyer = profileIn('a');
      const entered = stepJourneys(undefined, { kind: 'update', update: update(buyer, 'u1', T0, 'Cart Updated') }, T0, abCatalogue);
      const converted = stepJourneys(entered.state, { kind: 'update', update: update(buyer, 'u2', T0 + HOUR, 'Order Completed') }, T0 + HOUR, abCatalogue);
      // No timer fired (the profile's next record came first, days later).
      const later = stepJourneys(converted.state, { kind: 'update', update: update(buyer, 'u3', T0 + 5 * DAY, 'Product Viewed') }, T0 + 5 * DAY, abCatalogue);
      expect(samples(later.effects)).toEqual([expect.objectContaining({ variant: 'a', converted: true, at: T0 + 2 * DAY })]);
      expect(later.state.samples).toBeUndefined();
    });

    it('the control group, and an instance that ended because the profile was erased, are no samples', () => {
      const held = profileIn('control');
      const entered = stepJourneys(undefined, { kind: 'update', update: update(held, 'u1', T0, 'Cart Updated') }, T0, abCatalogue);
      expect(samples(stepJourneys(entered.state, { kind: 'timer' }, T0 + 2 * DAY, abCatalogue).effects)).toEqual([]);
      const erased = profileIn('a');
      const inA = stepJourneys(undefined, { kind: 'update', update: update(erased, 'u2', T0, 'Cart Updated') }, T0, abCatalogue);
      const erasure = { ...update(erased, 'u3', T0 + HOUR, 'x'), input: { kind: 'erasure' } } as ProfileUpdateRecord;
      const gone = stepJourneys(inA.state, { kind: 'update', update: erasure }, T0 + HOUR, abCatalogue);
      expect(gone.effects).toContainEqual(expect.objectContaining({ kind: 'outcome', outcome: expect.objectContaining({ kind: 'exited', detail: { reason: 'profile erased' } }) }));
      expect(gone.state.samples).toBeUndefined();
      expect(samples(stepJourneys(gone.state, { kind: 'timer' }, T0 + 2 * DAY, abCatalogue).effects)).toEqual([]);
    });

    it("a merged-away profile's open samples come along to the survivor", () => {
      const loser = profileIn('a');
      const entered = stepJourneys(undefined, { kind: 'update', update: update(loser, 'u1', T0, 'Cart Updated') }, T0, abCatalogue);
      const converted = stepJourneys(entered.state, { kind: 'update', update: update(loser, 'u2', T0 + HOUR, 'Order Completed') }, T0 + HOUR, abCatalogue);
      const merged = mergeJourneysStates(emptyJourneysState('survivor'), converted.state);
      expect(merged.samples).toEqual([expect.objectContaining({ variant: 'a', converted: true, at: T0 + 2 * DAY })]);
      expect(nextDueAt(merged)).toBe(T0 + 2 * DAY);
    });
  });

  it('a backtest reports the samples and the test the service would make on them', () => {
    const ab = journey({
      id: 'ab',
      trigger: { event: 'Cart Updated' },
      goal: { event: 'Order Completed', within: '1h' },
      steps: [{ split: { variants: [{ name: 'a', weight: 1, steps: [] }, { name: 'b', weight: 1, steps: [] }], winner: { confidence: 0.95, minimumPerVariant: 20 } } }],
    });
    const inA = (profileId: string) => splitPick('ab', '0', profileId, [{ name: 'a', weight: 1, first: '' }, { name: 'b', weight: 1, first: '' }], 0).name === 'a';
    const profiles = Array.from({ length: 120 }, (_, n) => `p${n}`);
    const events = profiles.flatMap((profileId) => [track(profileId, 'Cart Updated', T0), ...(inA(profileId) ? [track(profileId, 'Order Completed', T0 + 60_000)] : [])]);
    const test = run(events, [ab]).report.journeys['ab'].splitTest;
    const a = profiles.filter(inA).length;
    expect(test).toEqual({ stepId: '0', tally: { a: { recipients: a, conversions: a }, b: { recipients: 120 - a, conversions: 0 } }, decision: { winner: 'a', pValue: expect.any(Number) } });
    // Too few for the sample size: no decision.
    const few = run(events.filter((event) => ['p0', 'p1', 'p2', 'p3'].includes(String(event.profileId))), [ab]).report.journeys['ab'].splitTest;
    expect(few?.tally).toBeDefined();
    expect(few?.decision).toBeUndefined();
  });

  it('keeps a partition\'s share of a tally under a key of its own', () => {
    expect(splitTallyKey('ab', 3, '1', 4)).toBe('split-tally/ab@3/1/p4');
  });

  it('refuses a journey whose winner split is not its only split, or which has no goal', () => {
    const variants = [{ name: 'a', weight: 1, steps: [] }, { name: 'b', weight: 1, steps: [] }];
    const winner = { confidence: 0.95, minimumPerVariant: 100 };
    expect(() => compileJourney(journey({ id: 'nogoal', trigger: { event: 'X' }, steps: [{ split: { variants, winner } }] }), 1)).toThrow("journey nogoal: a split with a winner needs the journey's goal and must be its only split");
    expect(() => compileJourney(journey({ id: 'two', trigger: { event: 'X' }, goal: { event: 'Y', within: '1d' }, steps: [{ split: { variants, winner } }, { split: { variants } }] }), 1)).toThrow("journey two: a split with a winner needs the journey's goal and must be its only split");
  });
});
