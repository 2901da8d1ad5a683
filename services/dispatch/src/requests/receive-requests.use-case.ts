import { Inject, Injectable } from '@nestjs/common';
import { DispatchRequestRecord } from '@kairos/contracts';
import { receiveDelivery } from '@kairos/dispatch-core';
import { DecodedRecord } from '@kairos/kafka';
import { ClaimedRow, DeliveriesRepository } from '../delivery/deliveries.repository';
import { outcomeRecord, subjectOf } from '../delivery/delivery-records';
import { DeliverUseCase } from '../delivery/deliver.use-case';
import { timedStep } from '../dispatch-metrics';
import { OutboxRelay } from '../outbox/outbox-relay';

/**
 * A batch of dispatch requests becomes rows of the deliveries table, each with its `queued` outcome, in one
 * statement; as many as the sending side has free slots for are inserted claimed by it and start at once. A request
 * whose dispatch id has a row already (redelivered, replayed, produced twice) changes nothing: the row decided. The
 * consumer commits the offsets only after this returns, so a crash before then redelivers the batch.
 */
@Injectable()
export class ReceiveRequestsUseCase {
  constructor(
    @Inject(DeliveriesRepository) private readonly deliveries: DeliveriesRepository,
    @Inject(DeliverUseCase) private readonly deliver: DeliverUseCase,
    @Inject(OutboxRelay) private readonly outbox: OutboxRelay,
  ) {}

  async execute(records: readonly DecodedRecord<DispatchRequestRecord>[]): Promise<void> {
    const unique = new Map<string, DispatchRequestRecord>();
    for (const record of records) if (!unique.has(record.data.dispatchId)) unique.set(record.data.dispatchId, record.data);
    const requests = [...unique.values()];
    const now = new Date();
    const { state } = receiveDelivery();
    const claim = this.deliver.reserve(requests.length);
    let inserted: Array<{ dispatchId: string; claimed: boolean }>;
    try {
      inserted = await timedStep('receive', () =>
        this.deliveries.receive(
          requests,
          requests.map(() => state),
          new Map(requests.map((request) => [request.dispatchId, outcomeRecord(subjectOf(request), 'queued', now)])),
          claim,
        ),
      );
    } catch (error) {
      this.deliver.handOver([], claim.count);
      // The statement may have committed and only its answer been lost: its first claim.count rows are then ours.
      if (claim.count > 0) await this.deliver.release(claim.by);
      throw error;
    }
    const claimed = inserted.flatMap((row): ClaimedRow[] => {
      const request = row.claimed ? unique.get(row.dispatchId) : undefined;
      return request ? [{ dispatchId: request.dispatchId, profileId: request.profileId, claimedBy: claim.by, status: 'received', state, request, recipient: null, mail: null, links: null }] : [];
    });
    this.deliver.handOver(claimed, claim.count, inserted.length - claimed.length);
    if (inserted.length > 0) this.outbox.kick();
  }
}
