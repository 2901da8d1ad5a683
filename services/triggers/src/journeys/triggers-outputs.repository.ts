import { Injectable } from '@nestjs/common';
import { DispatchRequestRecord, JourneyOutcomeRecord, JourneysTransferRecord, Topics } from '@kairos/contracts';
import { Output } from '@kairos/state-store';

/**
 * Where triggers' outputs go and how they look on the wire. The StatefulProcessor publishes them (acknowledged)
 * before it commits the state, so a crash in between publishes them again with the same dispatchId / outcomeId.
 */
@Injectable()
export class TriggersOutputsRepository {
  /** An updateProfile step's identify event (libs/journeys traitUpdateEvent), for ingestion's internal topic. */
  traitUpdate(profileId: string, event: Record<string, unknown>): Output {
    return { topic: Topics.internal.name, record: { key: profileId, value: JSON.stringify(event) } };
  }

  dispatchRequest(request: DispatchRequestRecord): Output {
    return { topic: Topics.dispatchRequests.name, record: { key: request.profileId, value: JSON.stringify(request), headers: { 'kairos-dispatch-id': request.dispatchId } } };
  }

  journeyOutcome(outcome: JourneyOutcomeRecord): Output {
    return { topic: Topics.journeyOutcomes.name, record: { key: outcome.profileId, value: JSON.stringify(outcome) } };
  }

  /** A merged-away profile's journeys, keyed by the survivor so that the survivor's writer folds them. */
  transfer(record: JourneysTransferRecord): Output {
    return { topic: Topics.journeysTransfers.name, record: { key: record.profileId, value: JSON.stringify(record) } };
  }
}
