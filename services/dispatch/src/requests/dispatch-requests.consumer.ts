import { Controller, Inject } from '@nestjs/common';
import { Payload, EventPattern } from '@nestjs/microservices';
import { DispatchRequestRecord, ProfileErasure, Topics } from '@kairos/contracts';
import { DecodedRecord } from '@kairos/kafka';
import { ApplyErasuresUseCase } from './apply-erasures.use-case';
import { ReceiveRequestsUseCase } from './receive-requests.use-case';

/** Transport only: dispatch requests into the deliveries table; erasures into the suppression list. */
@Controller()
export class DispatchRequestsConsumer {
  constructor(
    @Inject(ReceiveRequestsUseCase) private readonly receive: ReceiveRequestsUseCase,
    @Inject(ApplyErasuresUseCase) private readonly erasures: ApplyErasuresUseCase,
  ) {}

  @EventPattern(Topics.dispatchRequests.name)
  onRequests(@Payload() records: DecodedRecord<DispatchRequestRecord>[]): Promise<void> {
    return this.receive.execute(records);
  }

  @EventPattern(Topics.erasures.name)
  onErasures(@Payload() records: DecodedRecord<ProfileErasure>[]): Promise<void> {
    return this.erasures.execute(records);
  }
}
