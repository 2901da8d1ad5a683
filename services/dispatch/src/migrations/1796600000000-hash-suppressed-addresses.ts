import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Addresses in the suppression list and the soft-bounce counts were kept in the clear, and stayed after the profile
 * they came from was erased. They are kept as `address-sha256:<hex>` now (addressSubject in dispatch-core): the
 * suppression still holds for the address, and the list names nobody. Existing rows were written lower-case by the
 * service, so hashing them as stored gives the subject the service computes.
 */
export class HashSuppressedAddresses1796600000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    const hashed = (column: string, prefixLength: number) => `'address-sha256:' || encode(sha256(convert_to(substr(${column}, ${prefixLength + 1}), 'UTF8')), 'hex')`;
    await queryRunner.query(`
      INSERT INTO suppressions (subject, scope, reason, at, proof)
      SELECT ${hashed('subject', 'address:'.length)}, scope, reason, at, proof FROM suppressions WHERE subject LIKE 'address:%'
      ON CONFLICT (subject, scope) DO NOTHING`);
    await queryRunner.query(`DELETE FROM suppressions WHERE subject LIKE 'address:%'`);
    await queryRunner.query(`
      INSERT INTO soft_bounces (address, count, last_at)
      SELECT ${hashed('address', 0)}, sum(count)::int, max(last_at) FROM soft_bounces WHERE address NOT LIKE 'address-sha256:%' GROUP BY 1
      ON CONFLICT (address) DO UPDATE SET count = soft_bounces.count + excluded.count, last_at = greatest(soft_bounces.last_at, excluded.last_at)`);
    await queryRunner.query(`DELETE FROM soft_bounces WHERE address NOT LIKE 'address-sha256:%'`);
  }

  async down(): Promise<void> {
    // The addresses are gone; code before this migration would look for them in the clear and find no suppression.
    throw new Error('HashSuppressedAddresses1796600000000 cannot be reverted: suppressed addresses are kept only as SHA-256 digests');
  }
}
