import { JourneyOutcomeRecord } from '@kairos/contracts';
import { compileJourney } from './compiled-journey';
import { decideSplitWinner, splitTallyKey, tallyIncrement, twoByTwoPValue } from './split-winner';
import { journey } from './testing/journey-fixtures';

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

  it('counts an instance of a variant when it finishes: a conversion if it reached the goal; not the control group', () => {
    const compiled = compileJourney(
      journey({
        id: 'ab',
        trigger: { event: 'Cart Updated' },
        goal: { event: 'Order Completed', within: '7d' },
        steps: [{ wait: '1h' }, { split: { variants: [{ name: 'a', weight: 1, steps: [{ send: 'promo' }] }, { name: 'b', weight: 1, steps: [] }], control: 1, winner: { confidence: 0.95, minimumPerVariant: 500 } } }],
      }),
      3,
    );
    const outcome = (kind: JourneyOutcomeRecord['kind'], extra: Partial<JourneyOutcomeRecord>): JourneyOutcomeRecord => ({ outcomeId: 'o', kind, profileId: 'p1', journeyId: 'ab', journeyVersion: 3, instanceId: 'i', at: '2026-03-02T10:00:00.000Z', ...extra });
    expect(tallyIncrement(outcome('goal-reached', { stepId: '1/0/0', variant: 'a' }), compiled)).toEqual({ stepId: '1', variant: 'a', converted: true });
    expect(tallyIncrement(outcome('exited', { variant: 'b', detail: { reason: 'completed' } }), compiled)).toEqual({ stepId: '1', variant: 'b', converted: false });
    // Entering the variant is no sample yet; the control group and instances before the split are none at all.
    expect(tallyIncrement(outcome('step-executed', { stepId: '1', variant: 'b', detail: { split: 'b' } }), compiled)).toBeUndefined();
    expect(tallyIncrement(outcome('exited', { variant: 'control' }), compiled)).toBeUndefined();
    expect(tallyIncrement(outcome('goal-reached', { stepId: '0' }), compiled)).toBeUndefined();
    expect(splitTallyKey('ab', 3, '1', 4)).toBe('split-tally/ab@3/1/p4');
  });

  it('refuses a journey whose winner split is not its only split, or which has no goal', () => {
    const variants = [{ name: 'a', weight: 1, steps: [] }, { name: 'b', weight: 1, steps: [] }];
    const winner = { confidence: 0.95, minimumPerVariant: 100 };
    expect(() => compileJourney(journey({ id: 'nogoal', trigger: { event: 'X' }, steps: [{ split: { variants, winner } }] }), 1)).toThrow("journey nogoal: a split with a winner needs the journey's goal and must be its only split");
    expect(() => compileJourney(journey({ id: 'two', trigger: { event: 'X' }, goal: { event: 'Y', within: '1d' }, steps: [{ split: { variants, winner } }, { split: { variants } }] }), 1)).toThrow("journey two: a split with a winner needs the journey's goal and must be its only split");
  });
});
