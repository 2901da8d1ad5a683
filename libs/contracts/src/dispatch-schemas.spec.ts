import { EVENT_SCHEMAS, SchemaIds } from './events';
import { SchemaValidator } from './schema-validator';
import { DeliveryOutcomeRecord, DispatchRequestRecord } from './dispatch';

describe('the dispatch schemas', () => {
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const email: DispatchRequestRecord = {
    dispatchId: 'd1',
    profileId: 'p1',
    requestedAt: '2026-05-01T10:00:00.000Z',
    reason: { trigger: 'abandoned-cart', consent: { channel: 'email', purpose: 'marketing', status: 'granted' } },
    channel: 'email',
    purpose: 'marketing',
    templateId: 'cart-reminder',
    context: { profile: { email: 'a@b.ch' }, event: { name: 'Cart Updated', properties: { cartId: 'c1' } } },
  };

  it('accepts e-mail and webhook requests and refuses a request that is neither', () => {
    expect(validator.validate(SchemaIds.dispatchRequest, email)).toMatchObject({ valid: true });
    expect(validator.validate(SchemaIds.dispatchRequest, { ...email, channel: 'webhook', url: 'https://hooks.example/x', body: {} })).toMatchObject({ valid: true });
    expect(validator.validate(SchemaIds.dispatchRequest, { ...email, templateId: undefined })).toMatchObject({ valid: false });
    expect(validator.validate(SchemaIds.dispatchRequest, { ...email, channel: 'sms' })).toMatchObject({ valid: false });
  });

  it('accepts an outcome and refuses an unknown kind', () => {
    const outcome: DeliveryOutcomeRecord = { outcomeId: 'd1/sent/1', kind: 'sent', dispatchId: 'd1', profileId: 'p1', at: '2026-05-01T10:00:00.000Z', channel: 'email', detail: { messageId: '<d1@x.ch>' } };
    expect(validator.validate(SchemaIds.deliveryOutcome, outcome)).toMatchObject({ valid: true });
    expect(validator.validate(SchemaIds.deliveryOutcome, { ...outcome, kind: 'delivered' })).toMatchObject({ valid: false });
  });
});
