import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface Sighting {
  sourceId: string;
  messageId: string;
  /** Where in the raw topic this copy sits; lets a redelivered record recognise its own earlier sighting. */
  partition: number;
  offset: string;
  /** The event's index in a batch record; 0 for a single-event record. */
  index: number;
}

/**
 * messageIds seen per source, in PostgreSQL: bounded by time (pruned after the window), shared by every instance,
 * and surviving restarts and rebalances, unlike an in-memory set.
 */
@Injectable()
export class SeenMessagesRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Records the sightings and returns those that are first: never seen before, or seen before at this very raw
   * position (our own attempt that crashed before its offset was committed, so it must be emitted again, not dropped).
   * One statement for the whole batch.
   */
  async firstSightings(sightings: readonly Sighting[]): Promise<Set<string>> {
    if (sightings.length === 0) return new Set();
    const rows: Array<{ source_id: string; message_id: string }> = await this.dataSource.query(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::int[]) AS t(source_id, message_id, raw_partition, raw_offset, raw_index)
       ),
       inserted AS (
         INSERT INTO seen_messages (source_id, message_id, raw_partition, raw_offset, raw_index)
         SELECT source_id, message_id, raw_partition, raw_offset, raw_index FROM input
         ON CONFLICT (source_id, message_id) DO NOTHING
         RETURNING source_id, message_id
       )
       SELECT source_id, message_id FROM inserted
       UNION
       SELECT s.source_id, s.message_id FROM seen_messages s
         JOIN input i ON i.source_id = s.source_id AND i.message_id = s.message_id
                     AND i.raw_partition = s.raw_partition AND i.raw_offset = s.raw_offset AND i.raw_index = s.raw_index`,
      [sightings.map((s) => s.sourceId), sightings.map((s) => s.messageId), sightings.map((s) => s.partition), sightings.map((s) => s.offset), sightings.map((s) => s.index)],
    );
    return new Set(rows.map((row) => sightingKey(row.source_id, row.message_id)));
  }

  /** Forgets messageIds first seen before the window; returns how many. */
  async prune(windowHours: number): Promise<number> {
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM seen_messages WHERE first_seen_at < now() - make_interval(hours => $1)`,
      [windowHours],
    );
    return result[1];
  }
}

export const sightingKey = (sourceId: string, messageId: string): string => `${sourceId}\u0000${messageId}`;
