import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { JourneysTransferRecord, ProfileUpdateRecord, Topics } from '@kairos/contracts';
import { BatchContext, DecodedRecord } from '@kairos/kafka';
import { RunJourneysUseCase } from './run-journeys.use-case';

/** Transport only: a batch of one partition of profile updates or hand-overs in, to the profiles' ordered path through their journeys. */
@Controller()
export class ProfileUpdatesConsumer {
  constructor(@Inject(RunJourneysUseCase) private readonly runJourneys: RunJourneysUseCase) {}

  @EventPattern(Topics.profileUpdates.name)
  onProfileUpdates(@Payload() records: DecodedRecord<ProfileUpdateRecord>[], @Ctx() context: BatchContext): Promise<void> {
    return this.runJourneys.execute(records, context);
  }

  @EventPattern(Topics.journeysTransfers.name)
  onTransfers(@Payload() records: DecodedRecord<JourneysTransferRecord>[], @Ctx() context: BatchContext): Promise<void> {
    return this.runJourneys.execute(records, context);
  }
}
