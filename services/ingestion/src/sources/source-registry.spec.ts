import { SourceRegistry } from './source-registry';

describe('the source registry', () => {
  it('looks sources up by write key and by id', () => {
    const registry = SourceRegistry.fromConfig('[{"id":"web","writeKey":"0123456789abcdef"}]', undefined);
    expect(registry.byWriteKey('0123456789abcdef')?.id).toBe('web');
    expect(registry.bySourceId('web')).toEqual({ id: 'web', writeKey: '0123456789abcdef', collectIp: false });
  });

  it("refuses a source that takes the id of Kairos' own events, which may address profiles by id", () => {
    expect(() => SourceRegistry.fromConfig('[{"id":"kairos","writeKey":"0123456789abcdef"}]', undefined)).toThrow(
      "KAIROS_SOURCES: source id kairos is reserved for Kairos' own events (kairos.events.internal.v1)",
    );
  });
});
