import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { ErasureRequest, Topics } from '@kairos/contracts';
import { DecodedRecord } from '@kairos/kafka';
import { EraseProfileUseCase } from './erase-profile.use-case';

/** Transport only: erasure requests from the topic, carried out one by one, in order. */
@Controller()
export class ErasureRequestsConsumer {
  constructor(@Inject(EraseProfileUseCase) private readonly erase: EraseProfileUseCase) {}

  @EventPattern(Topics.erasureRequests.name)
  async onErasureRequests(@Payload() records: DecodedRecord<ErasureRequest>[]): Promise<void> {
    for (const record of records) await this.erase.execute(record.data);
  }
}
