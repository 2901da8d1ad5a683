import { Module } from '@nestjs/common';
import { JourneyVersionsRepository } from './journeys/journey-versions.repository';
import { JourneysInForce } from './journeys/journeys-in-force';
import { ProfileUpdatesConsumer } from './journeys/profile-updates.consumer';
import { RunJourneysUseCase } from './journeys/run-journeys.use-case';
import { ScheduleJourneysUseCase } from './journeys/schedule-journeys.use-case';
import { TriggersOutputsRepository } from './journeys/triggers-outputs.repository';
import { SplitWinnerDecider } from './journeys/split-winner-decider';
import { SplitWinners } from './journeys/split-winners';

/** The triggers stage: profile updates -> journey instances -> dispatch requests and journey outcomes. */
@Module({
  controllers: [ProfileUpdatesConsumer],
  providers: [RunJourneysUseCase, ScheduleJourneysUseCase, JourneysInForce, JourneyVersionsRepository, TriggersOutputsRepository, SplitWinners, SplitWinnerDecider],
})
export class TriggersModule {}
