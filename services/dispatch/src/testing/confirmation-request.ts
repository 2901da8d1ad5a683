import { EmailDispatchRequest } from '@kairos/contracts';

/** A double opt-in confirmation (transactional, no consent needed) to `email`: the dispatch tests' plainest request. */
export function confirmationRequest(dispatchId: string, profileId: string, email: string): EmailDispatchRequest {
  return {
    dispatchId,
    profileId,
    requestedAt: new Date().toISOString(),
    reason: { trigger: 'double-opt-in', consent: { channel: 'email', purpose: 'transactional', status: 'not-required' } },
    channel: 'email',
    purpose: 'transactional',
    templateId: 'confirm-subscription',
    context: { profile: { firstName: 'Anna', email } },
  };
}
