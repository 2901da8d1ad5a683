import { Inject, Injectable } from '@nestjs/common';
import { ProfileErasure } from '@kairos/contracts';
import { addressSubject, profileSubject } from '@kairos/dispatch-core';
import { DecodedRecord } from '@kairos/kafka';
import { DataSource } from 'typeorm';

/**
 * Erased profiles (identity's kairos.identity.erasures.v1): suppressed for every channel, so a request already queued
 * for one is recorded as suppressed at send time; and what dispatch holds about them — rendering contexts, composed
 * mails, recipients, recorded consents — is deleted. The rows stay (without personal data) so the dispatch ids still
 * refuse a second send. The addresses they were sent to keep their suppressions (held as SHA-256 digests, see
 * addressSubject: a bounced or complaining address stays blocked), without the bounce diagnostics, which often quote
 * the address; their soft-bounce counts are dropped.
 */
@Injectable()
export class ApplyErasuresUseCase {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async execute(records: readonly DecodedRecord<ProfileErasure>[]): Promise<void> {
    const profileIds = [...new Set(records.flatMap((record) => record.data.profileIds))];
    if (profileIds.length === 0) return;
    const erasedAt = records.map((record) => Date.parse(record.data.erasedAt)).filter((at) => !Number.isNaN(at));
    const at = new Date(erasedAt.length > 0 ? Math.max(...erasedAt) : Date.now());
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO suppressions (subject, scope, reason, at, proof)
         SELECT subject, 'all', 'erased', $2, NULL FROM unnest($1::text[]) AS s(subject)
         ON CONFLICT (subject, scope) DO UPDATE SET reason = 'erased', at = excluded.at, proof = NULL`,
        [profileIds.map(profileSubject), at],
      );
      // Locked in dispatch-id order first, as grouped transitions lock them: no deadlock with one that shares rows.
      const sentTo = (await manager.query('SELECT recipient FROM deliveries WHERE profile_id = ANY($1::text[]) ORDER BY dispatch_id FOR UPDATE', [profileIds])) as Array<{ recipient: string | null }>;
      const addresses = [...new Set(sentTo.flatMap(({ recipient }) => (recipient ? [addressSubject(recipient)] : [])))];
      if (addresses.length > 0) {
        await manager.query(`UPDATE suppressions SET proof = proof - 'diagnostic' WHERE subject = ANY($1::text[]) AND proof ? 'diagnostic'`, [addresses]);
        await manager.query('DELETE FROM soft_bounces WHERE address = ANY($1::text[])', [addresses]);
      }
      await manager.query(
        `UPDATE deliveries SET mail = NULL, links = NULL, recipient = NULL, updated_at = now(),
           request = (request - 'context' - 'body' - 'to') || jsonb_build_object('erased', true)
         WHERE profile_id = ANY($1::text[])`,
        [profileIds],
      );
      await manager.query('DELETE FROM consents WHERE profile_id = ANY($1::text[])', [profileIds]);
    });
  }
}
