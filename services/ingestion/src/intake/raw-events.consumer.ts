import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Topics } from '@kairos/contracts';
import { DecodedRecord } from '@kairos/kafka';
import { IntakeRawEventsUseCase } from './intake-raw-events.use-case';

/** Transport only: a batch of raw records in, to the intake use case. */
@Controller()
export class RawEventsConsumer {
  constructor(@Inject(IntakeRawEventsUseCase) private readonly intake: IntakeRawEventsUseCase) {}

  @EventPattern(Topics.raw.name)
  async onRawEvents(@Payload() records: DecodedRecord<Buffer | null>[]): Promise<void> {
    await this.intake.execute(records, 'kafka');
  }

  /** Kairos' own events (engagement, updateProfile): the only ones that may address a profile by its id. */
  @EventPattern(Topics.internal.name)
  async onInternalEvents(@Payload() records: DecodedRecord<Buffer | null>[]): Promise<void> {
    await this.intake.execute(records, 'internal');
  }
}
