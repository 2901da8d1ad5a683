import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { OutboxRecord, outboxColumns, outboxRows } from '../outbox/outbox-record';

/** Suppressions, soft-bounce counts and consents as the engagement endpoints change them; each change with its outbox records. */
@Injectable()
export class EngagementRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Runs `work` and writes `outbox` records it returns in one transaction. */
  async inTransaction(work: (writes: EngagementWrites) => Promise<OutboxRecord[]>): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const outbox = await work(new EngagementWrites(manager));
      if (outbox.length > 0) await manager.query(`INSERT INTO outbox (topic, key, value, headers) ${outboxRows(1)}`, outboxColumns(outbox));
    });
  }

  /** Outbox records alone (opens, clicks): nothing else changes. */
  async publish(outbox: OutboxRecord[]): Promise<void> {
    if (outbox.length > 0) await this.dataSource.query(`INSERT INTO outbox (topic, key, value, headers) ${outboxRows(1)}`, outboxColumns(outbox));
  }

  /** The latest delivery to an address (a bounce report that names no dispatch id). */
  async latestDispatchTo(address: string): Promise<string | undefined> {
    const rows = (await this.dataSource.query('SELECT dispatch_id FROM deliveries WHERE recipient = $1 ORDER BY received_at DESC LIMIT 1', [address])) as Array<{ dispatch_id: string }>;
    return rows[0]?.dispatch_id;
  }

  async consent(profileId: string, purpose: string): Promise<{ status: string; at: Date; proof: Record<string, unknown> } | undefined> {
    const rows = (await this.dataSource.query('SELECT status, at, proof FROM consents WHERE profile_id = $1 AND purpose = $2', [profileId, purpose])) as Array<{
      status: string;
      at: Date;
      proof: Record<string, unknown>;
    }>;
    return rows[0];
  }
}

/** The writes of one engagement transaction. */
export class EngagementWrites {
  constructor(private readonly manager: EntityManager) {}

  async suppress(subject: string, scope: 'marketing' | 'all', reason: string, at: Date, proof: Record<string, unknown>): Promise<void> {
    await this.manager.query(
      `INSERT INTO suppressions (subject, scope, reason, at, proof) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (subject, scope) DO UPDATE SET reason = excluded.reason, at = excluded.at, proof = excluded.proof
       WHERE suppressions.reason <> 'erased'`,
      [subject, scope, reason, at, JSON.stringify(proof)],
    );
  }

  /** Lifts an unsubscribe (a resubscribe, a double opt-in confirmation); bounces, complaints and erasures stay. */
  async liftUnsubscribe(subject: string): Promise<void> {
    await this.manager.query("DELETE FROM suppressions WHERE subject = $1 AND scope = 'marketing' AND reason = 'unsubscribed'", [subject]);
  }

  async recordConsent(profileId: string, purpose: string, status: 'granted' | 'confirmed' | 'withdrawn', at: Date, proof: Record<string, unknown>): Promise<void> {
    await this.manager.query(
      `INSERT INTO consents (profile_id, purpose, status, at, proof) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (profile_id, purpose) DO UPDATE SET status = excluded.status, at = excluded.at, proof = excluded.proof`,
      [profileId, purpose, status, at, JSON.stringify(proof)],
    );
  }

  /** Counts a soft bounce of an address (its addressSubject), from 1 again when the last was more than windowMs before; returns the count now. */
  async countSoftBounce(subject: string, at: Date, windowMs: number): Promise<number> {
    const rows = (await this.manager.query(
      `INSERT INTO soft_bounces (address, count, last_at) VALUES ($1, 1, $2)
       ON CONFLICT (address) DO UPDATE
         SET count = CASE WHEN soft_bounces.last_at < excluded.last_at - make_interval(secs => $3::double precision / 1000) THEN 1 ELSE soft_bounces.count + 1 END,
             last_at = excluded.last_at
       RETURNING count`,
      [subject, at, windowMs],
    )) as Array<{ count: number }>;
    return rows[0]?.count ?? 1;
  }
}
