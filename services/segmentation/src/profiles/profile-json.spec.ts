import { emptyProfileState } from '@kairos/segmentation';
import { profileJson, serialiseEntry } from './profile-json';
import { SegmentationState } from './segmentation-state';

describe('serialiseEntry', () => {
  const profile = { ...emptyProfileState('p-1'), traits: { firstName: { value: 'Zoë "Z" <b>', at: 1, messageId: 'm-1' } } };

  it('stores a live profile as the JSON of the whole entry, reusing the profile serialised for its outputs', () => {
    const entry: SegmentationState = { profile, memberships: { vip: { version: 2, since: 1_000 } }, foldedLosers: ['p-0'], release: 'r-1' };
    const forOutputs = profileJson(profile);
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const json = serialiseEntry(entry);
      expect(stringify.mock.calls.some(([value]) => value === profile)).toBe(false);
      expect(JSON.parse(json)).toEqual(entry);
      expect(json).toContain(forOutputs);
    } finally {
      stringify.mockRestore();
    }
  });

  it('stores the other kinds of entry as they are', () => {
    const entries: SegmentationState[] = [{ redirect: 'p-2', at: 5 }, { erased: 'req-1', at: 6 }, { backfill: true, done: { vip: 2 } }];
    for (const entry of entries) expect(JSON.parse(serialiseEntry(entry))).toEqual(entry);
  });
});
