import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Erasures suppress the erased profile ids too (type profile_id, as the graph's suppressionHash computes it), so an
 * event of Kairos' own addressed to one of them (an open of a mail sent before) is dropped. Erasures recorded before
 * get theirs here. The suppressions topic does not: a replay into an empty database relies on the later stages'
 * erasure markers for those.
 */
export class SuppressErasedProfileIds1795800000000 implements MigrationInterface {
  name = 'SuppressErasedProfileIds1795800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      INSERT INTO suppressed_identifiers (hash, type, request_id, erased_at)
      SELECT encode(sha256(convert_to('profile_id:' || profile_id::text, 'UTF8')), 'hex'), 'profile_id', request_id, erased_at
      FROM erasures, unnest(profile_ids) AS profile_id
      ON CONFLICT (hash) DO NOTHING`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM suppressed_identifiers WHERE type = 'profile_id'`);
  }
}
