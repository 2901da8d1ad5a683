import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { SchemaIds, SchemaValidator, SuppressedIdentifier, Topics } from '@kairos/contracts';
import { KafkaClient, readTopicToEnd } from '@kairos/kafka';
import { KAFKA } from '@kairos/service-runtime';
import { IdentityGraphRepository } from './identity-graph.repository';

/**
 * Before the first event is resolved, the suppression list in PostgreSQL is brought up to the compacted
 * suppressions topic: replaying the accepted topic into an empty database must not bring an erased customer back.
 */
@Injectable()
export class SuppressionBootstrap implements OnModuleInit {
  private readonly logger = new Logger('identity');

  constructor(
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(IdentityGraphRepository) private readonly repository: IdentityGraphRepository,
    @Inject(SchemaValidator) private readonly validator: SchemaValidator,
  ) {}

  async onModuleInit(): Promise<void> {
    let added = 0;
    const read = await readTopicToEnd(this.kafka, Topics.suppressions.name, async (records) => {
      const entries = records.flatMap((record) => {
        if (!record.value) return []; // never tombstoned by Kairos; an operator's tombstone lifts nothing here
        const checked = this.validator.validate<SuppressedIdentifier>(SchemaIds.suppressedIdentifier, JSON.parse(record.value.toString('utf8')));
        if (!checked.valid) {
          this.logger.warn(`skipping an invalid record at ${record.topic}/${record.partition}@${record.offset}`);
          return [];
        }
        return [checked.value];
      });
      added += await this.repository.suppress(entries);
    });
    this.logger.log(`suppression list: ${read} records on ${Topics.suppressions.name}, ${added} new to the database`);
  }
}
