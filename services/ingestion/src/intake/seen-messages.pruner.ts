import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { INGESTION_SETTINGS, IngestionSettings } from '../ingestion.settings';
import { SeenMessagesRepository } from './seen-messages.repository';

const EVERY_MS = 10 * 60 * 1000;

/** Keeps the de-duplication table bounded: messageIds older than the window are forgotten every ten minutes. */
@Injectable()
export class SeenMessagesPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SeenMessagesPruner.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SeenMessagesRepository) private readonly seen: SeenMessagesRepository,
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.prune(), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async prune(): Promise<void> {
    try {
      const removed = await this.seen.prune(this.settings.dedupeWindowHours);
      if (removed > 0) this.logger.log(`forgot ${removed} messageIds older than ${this.settings.dedupeWindowHours} h`);
    } catch (error) {
      this.logger.warn(`pruning seen messageIds failed: ${(error as Error).message}`);
    }
  }
}
