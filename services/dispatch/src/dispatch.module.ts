import { Module } from '@nestjs/common';
import { DeliverUseCase } from './delivery/deliver.use-case';
import { DeliveriesRepository } from './delivery/deliveries.repository';
import { MailTransportRepository } from './delivery/mail-transport.repository';
import { MessageComposer } from './delivery/message-composer';
import { WebhookTransportRepository } from './delivery/webhook-transport.repository';
import { EngagementController } from './engagement/engagement.controller';
import { EngagementRepository } from './engagement/engagement.repository';
import { RecordEngagementUseCase } from './engagement/record-engagement.use-case';
import { OutboxRelay } from './outbox/outbox-relay';
import { ApplyErasuresUseCase } from './requests/apply-erasures.use-case';
import { DispatchRequestsConsumer } from './requests/dispatch-requests.consumer';
import { ReceiveRequestsUseCase } from './requests/receive-requests.use-case';

/** The dispatch stage: requests -> deliveries table -> SMTP/webhooks; engagement endpoints; outcomes through the outbox. */
@Module({
  controllers: [DispatchRequestsConsumer, EngagementController],
  providers: [
    ReceiveRequestsUseCase,
    ApplyErasuresUseCase,
    DeliverUseCase,
    DeliveriesRepository,
    MessageComposer,
    MailTransportRepository,
    WebhookTransportRepository,
    OutboxRelay,
    EngagementRepository,
    RecordEngagementUseCase,
  ],
})
export class DispatchModule {}
