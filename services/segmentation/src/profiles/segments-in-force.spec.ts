import { join } from 'node:path';
import { validateDefinitions } from '@kairos/definitions';
import { readDefinitionsFolder } from '@kairos/definitions-topic';
import { buildModelFromRules, parseRule } from '@kairos/segmentation';
import { conditionsIn } from './segments-in-force';

describe('the profile model segmentation keeps', () => {
  it('tracks what the example journeys decide on: onlyIf, threshold, branch and exit conditions', () => {
    const { definitions } = validateDefinitions(readDefinitionsFolder(join(__dirname, '..', '..', '..', '..', 'definitions', 'shop')));
    const conditions = Object.fromEntries(definitions.filter((definition) => definition.kind === 'journey').map((journey) => [journey.id, conditionsIn(journey.body)]));
    expect(conditions['welcome-series']).toEqual([{ performed: 'Order Completed' }]);
    expect(conditions['win-back']).toEqual([{ inSegment: 'email-subscribers' }, { performed: 'Order Completed', within: '1d' }]);
    expect(conditions['vip-thank-you']).toEqual([{ inSegment: 'big-spenders' }]);
    const model = buildModelFromRules(Object.values(conditions).flat().map((condition) => parseRule(condition)));
    expect(Object.keys(model.series).length).toBeGreaterThan(0);
  });
});
