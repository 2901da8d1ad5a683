import { Inject, Injectable } from '@nestjs/common';
import { JourneyBody } from '@kairos/definitions';
import { DataSource } from 'typeorm';

/** The journey versions seen in force (table journey_versions): what running instances need after compaction. */
@Injectable()
export class JourneyVersionsRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async all(): Promise<Array<{ version: number; body: JourneyBody }>> {
    const rows: Array<{ version: number; body: JourneyBody }> = await this.dataSource.query('SELECT version, body FROM journey_versions ORDER BY journey_id, version');
    return rows;
  }

  async save(versions: ReadonlyArray<{ version: number; body: JourneyBody }>): Promise<void> {
    if (versions.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO journey_versions (journey_id, version, body)
       SELECT * FROM unnest($1::text[], $2::int[], $3::jsonb[]) ON CONFLICT DO NOTHING`,
      [versions.map((entry) => entry.body.id), versions.map((entry) => entry.version), versions.map((entry) => JSON.stringify(entry.body))],
    );
  }
}
