import { DeadLetterHeaders, DeliveryOutcomeKind, DeliveryOutcomeRecord, DispatchRequestRecord, Topics } from '@kairos/contracts';
import { DeliveryState, engagementEvent, EngagementInput } from '@kairos/dispatch-core';
import { OutboxRecord } from '../outbox/outbox-record';

/** The history of a dead-lettered delivery travels in this header, beside the kairos-dlq-* ones. */
export const DISPATCH_HISTORY_HEADER = 'kairos-dispatch-history';

/** What an outcome says about its dispatch: from the request, or from the row an engagement token names. */
export interface OutcomeSubject {
  dispatchId: string;
  profileId: string;
  channel: 'email' | 'webhook';
  templateId?: string;
  origin?: DispatchRequestRecord['origin'];
}

export function subjectOf(request: DispatchRequestRecord): OutcomeSubject {
  return {
    dispatchId: request.dispatchId,
    profileId: request.profileId,
    channel: request.channel,
    ...(request.channel === 'email' && request.templateId ? { templateId: request.templateId } : {}),
    ...(request.origin ? { origin: request.origin } : {}),
  };
}

/** An outcome record for the outbox: deterministic id (dispatch/kind[/suffix]), keyed by profileId. */
export function outcomeRecord(
  request: OutcomeSubject,
  kind: DeliveryOutcomeKind,
  at: Date,
  detail?: Record<string, unknown>,
  suffix?: string | number,
): OutboxRecord {
  const outcome: DeliveryOutcomeRecord = {
    outcomeId: [request.dispatchId, kind, ...(suffix === undefined ? [] : [String(suffix)])].join('/'),
    kind,
    dispatchId: request.dispatchId,
    profileId: request.profileId,
    at: at.toISOString(),
    channel: request.channel,
    ...(request.templateId ? { templateId: request.templateId } : {}),
    ...(request.origin ? { origin: request.origin } : {}),
    ...(detail ? { detail } : {}),
  };
  return { topic: Topics.deliveryOutcomes.name, key: request.profileId, value: JSON.stringify(outcome) };
}

/** The outcomes (and dead letter) a new delivery state publishes, following the state machine's effects. */
export function stateRecords(dispatchRequest: DispatchRequestRecord, state: DeliveryState, at: Date, deadLetterTopic: string, groupId: string): OutboxRecord[] {
  const request = subjectOf(dispatchRequest);
  switch (state.status) {
    case 'sent':
      return [outcomeRecord(request, 'sent', at, { messageId: state.messageId, response: state.response, attempt: state.attempts }, state.attempts)];
    case 'retrying': {
      const last = state.history[state.history.length - 1];
      return [outcomeRecord(request, 'retried', at, { attempt: state.attempts, nextAttemptAt: state.nextAttemptAt, error: last?.detail, code: last?.code }, state.attempts)];
    }
    case 'suppressed':
      return [outcomeRecord(request, 'suppressed', at, { reason: state.reason })];
    case 'failed':
      return [
        outcomeRecord(request, 'failed', at, { reason: state.reason, detail: state.detail, attempts: state.attempts, history: state.history }),
        deadLetter(dispatchRequest, state, at, deadLetterTopic, groupId),
      ];
    default:
      return [];
  }
}

/**
 * The consumer group's dead-letter topic, as every Kairos consumer writes it: the request as its value, the reason in
 * kairos-dlq-* headers, and the attempts' history in kairos-dispatch-history — so replaying it after a fix is
 * producing the value back onto the requests topic (under a new dispatch id, since this one has decided).
 */
function deadLetter(request: DispatchRequestRecord, state: Extract<DeliveryState, { status: 'failed' }>, at: Date, topic: string, groupId: string): OutboxRecord {
  return {
    topic,
    key: request.profileId,
    value: JSON.stringify(request),
    headers: {
      [DeadLetterHeaders.reason]: 'rejected',
      [DeadLetterHeaders.detail]: `${state.reason}: ${state.detail}`.slice(0, 1_000),
      [DeadLetterHeaders.topic]: Topics.dispatchRequests.name,
      [DeadLetterHeaders.group]: groupId,
      [DeadLetterHeaders.attempts]: String(state.attempts),
      [DeadLetterHeaders.failedAt]: at.toISOString(),
      [DISPATCH_HISTORY_HEADER]: JSON.stringify(state.history),
    },
  };
}

/** An engagement event for the internal topic, addressed to the profile by its id (see engagementEvent). */
export function engagementRecord(input: EngagementInput): OutboxRecord {
  return { topic: Topics.internal.name, key: input.profileId, value: JSON.stringify(engagementEvent(input)) };
}
