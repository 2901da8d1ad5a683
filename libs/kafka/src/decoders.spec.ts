import { SchemaValidator } from '@kairos/contracts';
import { jsonDecoder } from './decoders';
import { ConsumedRecord } from './record';

const record = (value: Buffer | null): ConsumedRecord => ({ topic: 't', partition: 0, offset: '0', key: null, value, headers: {}, timestamp: '0' });

describe('jsonDecoder', () => {
  const validator = new SchemaValidator([
    { $id: 'test:order', type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } }, additionalProperties: false },
  ]);
  const decode = jsonDecoder<{ orderId: string }>(validator, 'test:order');

  it('decodes valid JSON that matches the schema', () => {
    expect(decode(record(Buffer.from('{"orderId":"o-1"}')))).toEqual({ ok: true, data: { orderId: 'o-1' } });
  });

  it('calls invalid UTF-8 undecodable instead of decoding replacement characters', () => {
    const result = decode(record(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])));
    expect(result).toMatchObject({ ok: false, reason: 'undecodable' });
  });

  it('calls non-JSON and empty values undecodable', () => {
    expect(decode(record(Buffer.from('not json')))).toMatchObject({ ok: false, reason: 'undecodable' });
    expect(decode(record(null))).toMatchObject({ ok: false, reason: 'undecodable', detail: 'empty value' });
  });

  it('names the offending field of a schema violation', () => {
    const result = decode(record(Buffer.from('{"orderId":7,"extra":true}')));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe('schema_violation');
    expect(result.detail).toContain('/orderId must be string');
    expect(result.detail).toContain('must NOT have additional properties (extra)');
  });
});
