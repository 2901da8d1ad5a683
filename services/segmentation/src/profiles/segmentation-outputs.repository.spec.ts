import { Topics } from '@kairos/contracts';
import { emptyProfileState } from '@kairos/segmentation';
import { SegmentationOutputsRepository } from './segmentation-outputs.repository';

describe('SegmentationOutputsRepository', () => {
  const outputs = new SegmentationOutputsRepository();
  const state = { ...emptyProfileState('p-1'), traits: { firstName: { value: 'Zoë "Z" <b>', at: 1, messageId: 'm-1' } } };
  const memberships = { vip: { version: 2, since: 1_000 } };

  it('writes a snapshot as the record it documents, with the state serialised in it', () => {
    const { topic, record } = outputs.profileSnapshot(state, memberships, 2_000);
    expect(topic).toBe(Topics.profileSnapshots.name);
    expect(JSON.parse(String(record.value))).toEqual({ profileId: 'p-1', at: '1970-01-01T00:00:02.000Z', segments: memberships, state });
  });

  it('writes an update with the same state, and one without state (a merged-away profile)', () => {
    const change = { profileId: 'p-1', segmentId: 'vip', version: 2, change: 'enter' as const, at: 2_000, cause: { kind: 'timer' as const } };
    const update = JSON.parse(String(outputs.profileUpdate('p-1', 2_000, { kind: 'timer' }, state, memberships, [change]).record.value));
    expect(update).toEqual({
      updateId: 'p-1/timer/2000',
      profileId: 'p-1',
      at: '1970-01-01T00:00:02.000Z',
      input: { kind: 'timer' },
      state,
      segments: memberships,
      changes: [outputs.changeRecord(change)],
    });
    const gone = JSON.parse(String(outputs.profileUpdate('p-2', 3_000, { kind: 'erasure' }, undefined, {}, []).record.value));
    expect(gone).toEqual({ updateId: 'p-2/erasure', profileId: 'p-2', at: '1970-01-01T00:00:03.000Z', input: { kind: 'erasure' }, segments: {}, changes: [] });
  });
});
