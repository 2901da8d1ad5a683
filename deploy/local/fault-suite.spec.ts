import { DeadLetterHeaders } from '@kairos/contracts';
import { deadLetterOf } from './fault-suite';

describe("the fault suite's report of dead letters", () => {
  const record = (headers: Record<string, string>, value: unknown) => ({ topic: 't', partition: 0, offset: '0', key: null, value: Buffer.from(JSON.stringify(value)), headers, timestamp: '0' });

  it('names the reason, the detail and the source record of a dead letter, from its headers', () => {
    const headers = { [DeadLetterHeaders.reason]: 'schema_violation', [DeadLetterHeaders.detail]: 'profileId: must be a uuid', [DeadLetterHeaders.topic]: 'kairos.events.resolved.v1', [DeadLetterHeaders.partition]: '1', [DeadLetterHeaders.offset]: '42' };
    expect(deadLetterOf('kairos.dlq.kairos-segmentation.v1', record(headers, {}))).toEqual({
      topic: 'kairos.dlq.kairos-segmentation.v1',
      reason: 'schema_violation',
      detail: 'profileId: must be a uuid',
      from: 'kairos.events.resolved.v1#1@42',
    });
  });

  it('names a rejected event by its own reason and origin', () => {
    const rejected = { reason: 'oversized', detail: '40000 bytes', via: 'kafka', origin: { topic: 'kairos.events.raw.v1', partition: 0, offset: '7' }, rejectedAt: '2026-12-07T00:00:00Z', payloadBase64: '' };
    expect(deadLetterOf('kairos.events.rejected.v1', record({}, rejected))).toEqual({ topic: 'kairos.events.rejected.v1', reason: 'oversized', detail: '40000 bytes', from: 'kairos.events.raw.v1#0@7' });
  });
});
