import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The identity graph: profiles (with the survivor a merged-away profile now lives in), links between identifiers and
 * profiles (an identifier may be shared by a few profiles), merge history, the suppression list of erased
 * identifiers (hashes only) and the erasures carried out. Event times are epoch milliseconds, as the core uses them.
 * graph_version is bumped by every writer under the graph lock, so each instance can tell whether its cache is current.
 */
export class CreateIdentityGraph1795500000000 implements MigrationInterface {
  name = 'CreateIdentityGraph1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE profiles (
        id               uuid        PRIMARY KEY,
        origin_at_ms     bigint      NOT NULL,
        origin_event_id  text        NOT NULL,
        merge_count      integer     NOT NULL DEFAULT 0,
        identifier_count integer     NOT NULL DEFAULT 0,
        merged_into      uuid,
        updated_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL');
    await queryRunner.query(`
      CREATE TABLE links (
        identifier      text    NOT NULL,
        profile_id      uuid    NOT NULL,
        type            text    NOT NULL,
        value           text    NOT NULL,
        linked_at_ms    bigint  NOT NULL,
        last_seen_at_ms bigint  NOT NULL,
        PRIMARY KEY (identifier, profile_id)
      )`);
    await queryRunner.query('CREATE INDEX links_profile_id ON links (profile_id)');
    await queryRunner.query(`
      CREATE TABLE merges (
        loser_id    uuid        PRIMARY KEY,
        survivor_id uuid        NOT NULL,
        merged_at   timestamptz NOT NULL,
        message_id  text        NOT NULL,
        reason      text        NOT NULL,
        identifiers jsonb       NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX merges_survivor_id ON merges (survivor_id)');
    await queryRunner.query(`
      CREATE TABLE suppressed_identifiers (
        hash       text        PRIMARY KEY,
        type       text        NOT NULL,
        request_id text        NOT NULL,
        erased_at  timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE erasures (
        request_id       text        PRIMARY KEY,
        profile_ids      uuid[]      NOT NULL,
        identifier_count integer     NOT NULL,
        erased_at        timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE TABLE graph_version (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)');
    await queryRunner.query('INSERT INTO graph_version (id, version) VALUES (1, 0)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['graph_version', 'erasures', 'suppressed_identifiers', 'merges', 'links', 'profiles']) await queryRunner.query(`DROP TABLE ${table}`);
  }
}
