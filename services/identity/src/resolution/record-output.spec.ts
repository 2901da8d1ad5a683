import { BatchOutputs, withoutProfiles } from './record-output';

describe('withoutProfiles', () => {
  it('turns the erased profiles\' records, merges included, into suppressed ones and keeps the rest as they were', () => {
    const resolution = { matched: [{ type: 'email', value: 'anna@example.ch' }], linked: [], ignored: [], mergedProfileIds: ['p-old'] };
    const merge = { loserId: 'p-old', survivorId: 'p-anna', mergedAt: '2026-01-05T10:00:00.000Z', messageId: 'm2', reason: 'shared_identifier' as const, identifiers: [] };
    const outputs: BatchOutputs = {
      '10': { profileId: 'p-anna', resolution, merges: [merge] },
      '11': { profileId: 'p-ben', resolution: { ...resolution, mergedProfileIds: [] } },
      '12': { rejected: 'no usable identifier' },
      '13': { suppressed: true },
    };
    expect(withoutProfiles(outputs, new Set(['p-anna', 'p-old']))).toEqual({ '10': { suppressed: true }, '11': outputs['11'], '12': outputs['12'], '13': outputs['13'] });
  });
});
