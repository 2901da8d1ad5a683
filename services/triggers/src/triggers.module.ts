import { Module } from '@nestjs/common';

/** The triggers stage. Its consumers, use cases and repositories arrive with its own issue. */
@Module({})
export class TriggersModule {}
