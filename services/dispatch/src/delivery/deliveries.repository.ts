import { Inject, Injectable } from '@nestjs/common';
import { DispatchRequestRecord } from '@kairos/contracts';
import { ComposedMail, DeliveryState, DeliveryStatus, SuppressionEntry } from '@kairos/dispatch-core';
import { queryPrepared } from '@kairos/persistence';
import { DataSource } from 'typeorm';
import { OutboxRecord, outboxColumns } from '../outbox/outbox-record';

/** A delivery row as a claim returns it. */
export interface DeliveryRow {
  dispatchId: string;
  profileId: string;
  status: DeliveryStatus;
  state: DeliveryState;
  request: DispatchRequestRecord;
  recipient: string | null;
  mail: StoredMail | null;
  links: Array<{ index: number; url: string }> | null;
}

/** A row as a claim (or a receive that claimed it) holds it. */
export interface ClaimedRow extends DeliveryRow {
  /** The claim that holds the row (`<instance>/<claim number>`): its transitions are fenced on it. */
  claimedBy: string;
}

/** What a retry sends again: the composed mail, or the webhook's URL and body. */
export type StoredMail = { kind: 'email'; mail: ComposedMail } | { kind: 'webhook'; url: string; body: string; secretName?: string };

/** A state change of one row, written only if the row is still as this instance last saw it. */
export interface Transition {
  dispatchId: string;
  from: DeliveryStatus;
  claimedBy: string;
  state: DeliveryState;
  /** When the row next needs work: a retry time, a lease's end; null when it is final. */
  dueAt: Date | null;
  mail?: StoredMail;
  links?: Array<{ index: number; url: string }>;
  recipient?: string;
  outbox: OutboxRecord[];
}

interface RawRow {
  dispatch_id: string;
  profile_id: string;
  status: DeliveryStatus;
  state: DeliveryState;
  request: DispatchRequestRecord;
  recipient: string | null;
  mail: StoredMail | null;
  links: Array<{ index: number; url: string }> | null;
}

/**
 * The deliveries table and the outbox written with it: the only code that touches them. Every write is one statement
 * (state and the records it publishes together), so no crash leaves a state without its outcome or the reverse.
 */
@Injectable()
export class DeliveriesRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Inserts the requests that have no row yet (the primary key is the dispatch id; a redelivery conflicts and changes
   * nothing) and, in the same statement, the outbox records of the rows actually inserted. The first `claim.count`
   * requests are inserted already claimed by `claim.by` under a lease, as a claim would leave them, so that instance
   * can start them without a claim; the rest are due now for any instance. Returns the rows inserted, and which of
   * them are claimed.
   */
  async receive(
    requests: readonly DispatchRequestRecord[],
    states: readonly DeliveryState[],
    outbox: ReadonlyMap<string, OutboxRecord>,
    claim: { by: string; count: number; leaseMs: number },
  ): Promise<Array<{ dispatchId: string; claimed: boolean }>> {
    if (requests.length === 0) return [];
    const ids = requests.map((request) => request.dispatchId);
    const records = ids.map((id) => outbox.get(id));
    const rows = await this.rows<{ dispatch_id: string; claimed: boolean }>(
      `WITH inserted AS (
         INSERT INTO deliveries (dispatch_id, profile_id, channel, status, state, request, claimed_by, due_at)
         SELECT id, profile, channel, 'received', j.value -> 'state', j.value -> 'request',
                CASE WHEN n <= $10 THEN $9 END,
                CASE WHEN n <= $10 THEN now() + $11 * interval '1 millisecond' ELSE now() END
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(id, profile, channel, n)
         JOIN jsonb_array_elements($4::jsonb) WITH ORDINALITY AS j(value, n) USING (n)
         ON CONFLICT (dispatch_id) DO NOTHING
         RETURNING dispatch_id, claimed_by IS NOT NULL AS claimed),
       queued AS (
         INSERT INTO outbox (topic, key, value, headers)
         SELECT o.topic, o.key, o.value, o.headers
         FROM unnest($1::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[]) WITH ORDINALITY AS o(id, topic, key, value, headers, n)
         JOIN inserted ON inserted.dispatch_id = o.id
         WHERE o.topic IS NOT NULL
         ORDER BY o.n)
       SELECT dispatch_id, claimed FROM inserted`,
      [
        ids,
        requests.map((request) => request.profileId),
        requests.map((request) => request.channel),
        // One JSON array rather than jsonb[] elements, which node-postgres escapes quote by quote (see transitions).
        JSON.stringify(requests.map((request, index) => ({ state: states[index], request }))),
        records.map((record) => record?.topic ?? null),
        records.map((record) => record?.key ?? null),
        records.map((record) => record?.value ?? null),
        records.map((record) => (record?.headers ? JSON.stringify(record.headers) : null)),
        claim.by,
        claim.count,
        claim.leaseMs,
      ],
    );
    return rows.map((row) => ({ dispatchId: row.dispatch_id, claimed: row.claimed }));
  }

  /**
   * Gives the rows of one claim back to any claim, due in `delayMs`: a claim (or a receive that claimed rows) whose
   * answer was lost, or whose rows could not start. Only rows not yet `sending`: their mail has not been handed to
   * SMTP, and a delivery of one still in progress here would find its claim gone at its next transition and stop. A
   * row already `sending` (its mail may be with the SMTP server) is left to its lease. The claim's lease bounds the
   * scan of the index of open rows.
   */
  async release(claimedBy: string, leaseMs: number, delayMs = 0): Promise<number> {
    const rows = await this.rows<{ dispatch_id: string }>(
      `UPDATE deliveries SET claimed_by = NULL, due_at = now() + $3 * interval '1 millisecond', updated_at = now()
       WHERE claimed_by = $1 AND status IN ('received', 'retrying')
         AND due_at > now() AND due_at <= now() + $2 * interval '1 millisecond'
       RETURNING dispatch_id`,
      [claimedBy, leaseMs, delayMs],
    );
    return rows.length;
  }

  /** Extends the lease of rows of this claim still `sending` (their attempt is under way): see DeliverUseCase. */
  async renewLeases(claimedBy: string, dispatchIds: readonly string[], leaseMs: number): Promise<void> {
    // Rows locked in dispatch-id order, as the grouped transitions lock them, and those being written skipped (their
    // answer is landing): never a deadlock with a group of answers.
    await this.rows(
      `WITH mine AS MATERIALIZED (
         SELECT dispatch_id FROM deliveries WHERE dispatch_id = ANY($1::text[]) AND claimed_by = $2 AND status = 'sending'
         ORDER BY dispatch_id FOR UPDATE SKIP LOCKED)
       UPDATE deliveries d SET due_at = now() + $3 * interval '1 millisecond' FROM mine WHERE d.dispatch_id = mine.dispatch_id`,
      [dispatchIds, claimedBy, leaseMs],
    );
  }

  /**
   * Claims up to `limit` rows that need work now (new, due for a retry, or abandoned by an instance whose lease ran
   * out), oldest first. SKIP LOCKED: two instances never claim the same row; the lease makes the claim durable.
   */
  async claim(claimedBy: string, limit: number, leaseMs: number): Promise<ClaimedRow[]> {
    const list = await this.rows<RawRow>(
      `UPDATE deliveries d SET claimed_by = $1, due_at = now() + $3 * interval '1 millisecond', updated_at = now()
       FROM (SELECT dispatch_id FROM deliveries
             WHERE status IN ('received', 'rendering', 'sending', 'retrying') AND due_at <= now()
             ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
       WHERE d.dispatch_id = due.dispatch_id
       RETURNING d.dispatch_id, d.profile_id, d.status, d.state, d.request, d.recipient, d.mail, d.links`,
      [claimedBy, limit, leaseMs],
    );
    return list.map((row) => ({
      dispatchId: row.dispatch_id,
      profileId: row.profile_id,
      claimedBy,
      status: row.status,
      state: row.state,
      request: row.request,
      recipient: row.recipient,
      mail: row.mail,
      links: row.links,
    }));
  }

  /**
   * Writes transitions of several rows and their outbox records in one statement (a group commit: dispatch submits
   * each row's transition on its own, GroupedWrites gathers them). Per transition, by its position: true if written,
   * false when its row moved on. Each is fenced on its row's status and claim as a write of its own would be; if one
   * row has two transitions in a group (a delivery whose claim ran out, and the claim that took the row over), only the
   * one holding the claim matches. The rows are locked in dispatch-id order, as erasures lock them, so two statements
   * that share rows wait for each other instead of deadlocking.
   */
  async transitions(list: readonly Transition[]): Promise<boolean[]> {
    const owners = list.flatMap((transition, index) => transition.outbox.map(() => index + 1));
    const [topics, keys, values, headers] = outboxColumns(list.flatMap((transition) => transition.outbox));
    const rows = await this.rows<{ n: string }>(
      `WITH input AS (
         SELECT i.id, i.from_status, i.claimed_by, i.status, j.value -> 'state' AS state, i.due_at, j.value -> 'mail' AS mail, j.value -> 'links' AS links, i.recipient, n
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::timestamptz[], $7::text[]) WITH ORDINALITY AS i(id, from_status, claimed_by, status, due_at, recipient, n)
         JOIN jsonb_array_elements($5::jsonb) WITH ORDINALITY AS j(value, n) USING (n)),
       locked AS MATERIALIZED (
         SELECT dispatch_id FROM deliveries WHERE dispatch_id = ANY($1::text[]) ORDER BY dispatch_id FOR UPDATE),
       moved AS (
         UPDATE deliveries d SET status = i.status, state = i.state, due_at = i.due_at, updated_at = now(),
           mail = COALESCE(i.mail, d.mail), links = COALESCE(i.links, d.links), recipient = COALESCE(i.recipient, d.recipient),
           claimed_by = CASE WHEN i.due_at IS NULL THEN NULL ELSE d.claimed_by END
         FROM input i JOIN locked l ON l.dispatch_id = i.id
         WHERE d.dispatch_id = i.id AND d.status = i.from_status AND d.claimed_by = i.claimed_by
         RETURNING i.n),
       published AS (
         INSERT INTO outbox (topic, key, value, headers)
         SELECT o.topic, o.key, o.value, o.headers
         FROM unnest($8::int[], $9::text[], $10::text[], $11::text[], $12::jsonb[]) WITH ORDINALITY AS o(owner, topic, key, value, headers, m)
         JOIN moved ON moved.n = o.owner
         ORDER BY o.m)
       SELECT n FROM moved`,
      [
        list.map((transition) => transition.dispatchId),
        list.map((transition) => transition.from),
        list.map((transition) => transition.claimedBy),
        list.map((transition) => transition.state.status),
        // State, mail and links as one JSON array: as jsonb[] elements, node-postgres escaped every quote of every
        // composed mail (a regular expression per element, 2.6% of dispatch's CPU) and the server unescaped it.
        JSON.stringify(list.map(({ state, mail, links }) => ({ state, mail, links }))),
        list.map((transition) => transition.dueAt),
        list.map((transition) => transition.recipient ?? null),
        owners,
        topics,
        keys,
        values,
        headers,
      ],
    );
    const moved = new Set(rows.map((row) => Number(row.n)));
    return list.map((_, index) => moved.has(index + 1));
  }

  /**
   * Deliveries due now that no instance holds, and the due time of the oldest (what a claim would take next); the
   * creation time of the oldest outbox row and how many rows the broker refused.
   */
  async backlog(): Promise<Backlog> {
    const rows = (await this.dataSource.query(
      `SELECT count(*) AS n, min(due_at) AS oldest,
              (SELECT created_at FROM outbox ORDER BY id LIMIT 1) AS outbox_oldest,
              (SELECT count(*) FROM outbox_refused) AS refused
         FROM deliveries WHERE status IN ('received', 'rendering', 'sending', 'retrying') AND due_at <= now()`,
    )) as Array<{ n: string; oldest: Date | null; outbox_oldest: Date | null; refused: string }>;
    return { due: Number(rows[0]?.n ?? 0), oldestDueAt: rows[0]?.oldest ?? null, oldestOutboxAt: rows[0]?.outbox_oldest ?? null, refusedOutboxRows: Number(rows[0]?.refused ?? 0) };
  }

  /** Suppression entries for these subjects (profile:… and address:…). */
  async suppressions(subjects: readonly string[]): Promise<SuppressionEntry[]> {
    if (subjects.length === 0) return [];
    const rows = await this.rows<{ subject: string; scope: SuppressionEntry['scope']; reason: SuppressionEntry['reason']; at: Date }>(
      'SELECT subject, scope, reason, at FROM suppressions WHERE subject = ANY($1::text[])',
      [subjects],
    );
    return rows.map((row) => ({ subject: row.subject, scope: row.scope, reason: row.reason, at: row.at.getTime() }));
  }

  /** A statement run per claim or per mail: prepared once per pooled connection rather than planned on every call. */
  private rows<T>(text: string, values: unknown[]): Promise<T[]> {
    return queryPrepared<T>(this.dataSource, text, values);
  }

  /** One delivery by id (the engagement endpoints: which mail a token names, its links, its recipient). */
  async find(dispatchId: string): Promise<DeliveryRow | undefined> {
    const rows = (await this.dataSource.query('SELECT dispatch_id, profile_id, status, state, request, recipient, mail, links FROM deliveries WHERE dispatch_id = $1', [dispatchId])) as RawRow[];
    const row = rows[0];
    return row
      ? { dispatchId: row.dispatch_id, profileId: row.profile_id, status: row.status, state: row.state, request: row.request, recipient: row.recipient, mail: row.mail, links: row.links }
      : undefined;
  }
}

/** The backlog figures the metrics report. */
export interface Backlog {
  due: number;
  oldestDueAt: Date | null;
  oldestOutboxAt: Date | null;
  refusedOutboxRows: number;
}
