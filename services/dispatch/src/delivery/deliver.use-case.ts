import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ObservableCallback, ObservableGauge, ObservableResult } from '@opentelemetry/api';
import { DispatchRequestRecord } from '@kairos/contracts';
import { GroupedWrites } from '@kairos/persistence';
import {
  advanceDelivery,
  checkSend,
  classifySmtpFailure,
  classifyWebhookStatus,
  DeliveryEvent,
  DeliveryState,
  DeliveryStatus,
  suppressionSubjects,
  SuppressionEntry,
} from '@kairos/dispatch-core';
import { dispatchMetrics, timedStep } from '../dispatch-metrics';
import { sleep, Wakeup } from '../wakeup';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';
import { OutboxRelay } from '../outbox/outbox-relay';
import { Backlog, ClaimedRow, DeliveriesRepository, DeliveryRow, StoredMail, Transition } from './deliveries.repository';
import { stateRecords } from './delivery-records';
import { MailTransportRepository } from './mail-transport.repository';
import { MessageComposer, recipientOf } from './message-composer';
import { WebhookTransportRepository } from './webhook-transport.repository';

/** How long a claim whose suppressions could not be read waits before any claim takes its rows again. */
const SUPPRESSIONS_RETRY_MS = 5_000;

/** What happened to a row this instance worked on (for tests and metrics). */
export type DeliveryStep = DeliveryStatus | 'lost-claim';

/**
 * The send side of dispatch: claims deliveries that need work from the deliveries table (new ones, retries that came
 * due, rows an instance abandoned), checks consent and suppressions at that moment, renders, hands the mail to SMTP
 * (or POSTs the webhook) and writes each new state — with the outcomes it publishes — before acting on it.
 *
 * Retries are durable timers: a temporary failure writes `retrying` with its due time into the row and frees the slot,
 * so a mail waiting for its back-off blocks nothing. At most DISPATCH_CONCURRENCY deliveries are in flight.
 *
 * The crash window: between the SMTP server's acceptance and the write of `sent` there is nothing but that one
 * statement. A process that dies inside it leaves the row `sending` under a lease; when the lease ends, a claim finds
 * it and treats the attempt as interrupted (a temporary failure), so the mail is sent again — with the same
 * Message-ID, which a receiving system that de-duplicates drops.
 */
@Injectable()
export class DeliverUseCase implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('dispatch');
  private readonly instance = `dispatch-${randomUUID().slice(0, 8)}`;
  private readonly claims = new Set<Promise<unknown>>();
  /** Claims and reservations made so far: each names its rows' `claimed_by`. */
  private claimCount = 0;
  private inFlightRows = 0;
  /**
   * Rows marked `sending` whose attempt is under way here (dispatch id -> claim): their lease is renewed while they
   * wait, so a mail queued behind a slow relay or a send rate is never taken for an abandoned one and sent twice.
   */
  private readonly attempting = new Map<string, string>();
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** The last claim was bounded by the free slots: more rows may be due than this instance had room for. */
  private behind = false;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  /**
   * Every row's transitions, as few statements as the load allows: what waits while two are running goes in the next
   * together (one statement for a claim's rows marked `sending`, one for the answers that came back meanwhile). At
   * most 100 a statement: an answer written after the SMTP server's 250 waits behind no statement of many mails.
   */
  private readonly transitions = new GroupedWrites<Transition, boolean>((list) => this.deliveries.transitions(list), { concurrency: 2, maxItems: 100 });
  private lastWarning = 0;
  /** Since when no SMTP server answered (an outage of the relay): nothing is claimed until a probe gets through. */
  private smtpUnreachableSince: number | undefined;
  /** The backlog as of the last look (every BACKLOG_LOOK_MS), for the metrics. */
  private backlog: Backlog | undefined;
  private backlogTimer: NodeJS.Timeout | undefined;
  private readonly observeInFlight = (result: ObservableResult) => result.observe(this.inFlightRows);
  private readonly observeSmtp = (result: ObservableResult) => result.observe(this.smtpUnreachableSince === undefined ? 1 : 0);
  private readonly observeBacklog = (result: ObservableResult) => {
    if (this.backlog) result.observe(this.backlog.due);
  };
  private readonly observeOldestDue = (result: ObservableResult) => {
    if (this.backlog) result.observe(secondsSince(this.backlog.oldestDueAt));
  };
  private readonly observeOutboxOldest = (result: ObservableResult) => {
    if (this.backlog) result.observe(secondsSince(this.backlog.oldestOutboxAt));
  };
  private readonly observeOutboxRefused = (result: ObservableResult) => {
    if (this.backlog) result.observe(this.backlog.refusedOutboxRows);
  };

  constructor(
    @Inject(DeliveriesRepository) private readonly deliveries: DeliveriesRepository,
    @Inject(MessageComposer) private readonly composer: MessageComposer,
    @Inject(MailTransportRepository) private readonly mail: MailTransportRepository,
    @Inject(WebhookTransportRepository) private readonly webhooks: WebhookTransportRepository,
    @Inject(OutboxRelay) private readonly outbox: OutboxRelay,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    for (const [gauge, observe] of this.gauges()) gauge.addCallback(observe);
    this.lookAtBacklog();
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(1_000, Math.floor(this.settings.leaseMs / 3)));
    this.renewTimer.unref();
    this.loop = this.run();
  }

  /**
   * Extends the lease of every row whose attempt is under way here. Before, a `sending` row's lease ran out while its
   * mail still waited in the SMTP pool's queue (a relay at one mail a second, 200 in flight, a 120 s lease), another
   * claim took it for abandoned and sent it again (found by a review against issue 12). A renewal that fails (the
   * database away) is tried at the next tick; a lease a third of which is left still covers it.
   */
  private async renewLeases(): Promise<void> {
    if (this.renewing) return; // the last one still waits for PostgreSQL
    this.renewing = true;
    try {
      const byClaim = new Map<string, string[]>();
      for (const [dispatchId, claim] of this.attempting) byClaim.set(claim, [...(byClaim.get(claim) ?? []), dispatchId]);
      for (const [claim, dispatchIds] of byClaim) {
        await this.deliveries.renewLeases(claim, dispatchIds, this.settings.leaseMs).catch((error: Error) => this.warn(`leases of ${dispatchIds.length} mails in flight not renewed, trying again: ${error.message}`));
      }
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Graceful stop: claims nothing more and lets the deliveries in hand finish (their SMTP answers are written), then
   * closes the SMTP pool and publishes the outcomes they wrote (the relay's own last drain may have run before them).
   */
  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    clearTimeout(this.backlogTimer);
    for (const [gauge, observe] of this.gauges()) gauge.removeCallback(observe);
    this.kick();
    await this.loop;
    await Promise.all(this.claims);
    // Only now: the mails still in the SMTP queue while the stop drains keep their leases.
    clearInterval(this.renewTimer);
    this.mail.close();
    await this.outbox.drain().catch((error: Error) => this.warn(`outcomes left for the next start or another instance to publish: ${error.message}`));
  }

  /** New rows were written: look now rather than at the next poll. */
  kick(): void {
    this.wakeup.kick();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakeup.begin();
      if (this.smtpUnreachableSince !== undefined && !(await this.smtpBack())) {
        await sleep(2_000);
        continue;
      }
      const free = Math.max(0, Math.min(this.settings.concurrency - this.inFlightRows, 500));
      // Behind, the slots in hand are still queued for SMTP: claiming for each freed slot alone would cost a claim and a
      // suppressions read per mail; a quarter of the slots (at most 50) at a time keeps them as busy.
      const limit = this.behind && free < this.claimBatch() ? 0 : free;
      let claimed = 0;
      if (limit > 0) {
        // The slots are held while the claim runs, so rows started on receipt meanwhile cannot take them too.
        this.inFlightRows += limit;
        const by = this.nextClaim();
        try {
          const rows = await this.deliveries.claim(by, limit, this.settings.leaseMs);
          claimed = rows.length;
          this.inFlightRows -= limit - claimed;
          if (rows.length > 0) this.start(rows);
        } catch (error) {
          this.inFlightRows -= limit;
          this.warn(`deliveries not claimed, retrying: ${(error as Error).message}`);
          // The claim may have committed with only its answer lost: its rows would wait out their lease.
          await this.release(by);
          await sleep(1_000);
          continue;
        }
      }
      // Behind: due rows may be waiting for a slot, so a finished delivery looks again at once.
      this.behind = limit === 0 || claimed === limit;
      if (claimed > 0 && this.behind) continue;
      if (this.wakeup.pending) continue;
      await this.wakeup.idle(200);
    }
  }

  /**
   * Slots for new deliveries to start on receipt, without waiting for the loop's claim: the receiving batch inserts
   * that many of its requests already claimed by this instance (under the same lease a claim sets) and hands the rows
   * it inserted to `handOver`. None while the relay is unreachable, the service stops or older rows wait for a slot:
   * those rows wait for a claim.
   * Saves a claim statement and a loop turn per batch while dispatch keeps up.
   */
  reserve(count: number): { by: string; count: number; leaseMs: number } {
    // Not while behind either: rows due earlier come first, through the claim's order.
    const slots = !this.running || this.behind || this.smtpUnreachableSince !== undefined ? 0 : Math.max(0, Math.min(count, this.settings.concurrency - this.inFlightRows));
    this.inFlightRows += slots;
    return { by: this.nextClaim(), count: slots, leaseMs: this.settings.leaseMs };
  }

  /**
   * Starts the rows inserted under a reservation and frees the slots it held for requests that were not inserted;
   * `unclaimed` rows were inserted beyond it, due for the loop's next claim.
   */
  handOver(rows: ClaimedRow[], reserved: number, unclaimed = 0): void {
    this.inFlightRows -= reserved - rows.length;
    if (rows.length > 0) this.start(rows);
    if (unclaimed > 0) this.kick();
  }

  /**
   * Gives one claim's rows back to any claim: at once after a claim or a receive failed (the statement may have
   * committed with only its answer lost), after `delayMs` when its rows could not start (the same failure would
   * otherwise repeat at once). Without this they would wait out their lease, DISPATCH_LEASE_SECONDS; with the
   * database down this fails too, and the lease is what frees them.
   */
  async release(claim: string, delayMs = 0): Promise<void> {
    try {
      if ((await this.deliveries.release(claim, this.settings.leaseMs, delayMs)) > 0 && delayMs === 0) this.kick();
    } catch (error) {
      this.warn(`deliveries of claim ${claim} not released, they wait for their lease: ${(error as Error).message}`);
    }
  }

  /**
   * A name for the next claim (or reservation): the rows it takes carry it in `claimed_by`, so the rows of one claim
   * whose answer was lost can be given back without touching the rows this instance is working on.
   */
  private nextClaim(): string {
    return `${this.instance}/${++this.claimCount}`;
  }

  /** While behind, the fewest free slots worth a claim. */
  private claimBatch(): number {
    return Math.max(1, Math.min(50, Math.floor(this.settings.concurrency / 4)));
  }

  /** Delivers rows whose slots are already counted in `inFlightRows` (by the claim or the reservation). */
  private start(rows: ClaimedRow[]): void {
    const claim = (async () => {
      // One query for the suppressions of the whole claim: what the send-time check reads.
      const subjects = rows.flatMap((row) => suppressionSubjects({ profileId: row.profileId, address: addressOf(row) }));
      let entries: SuppressionEntry[];
      try {
        entries = await timedStep('suppressions', () => this.deliveries.suppressions([...new Set(subjects)]));
      } catch (error) {
        // None of them started: they go back to any claim in a few seconds (or, with the database down, after their lease).
        this.warn(`suppressions not read, ${rows.length} deliveries given back: ${(error as Error).message}`);
        this.inFlightRows -= rows.length;
        for (const claim of new Set(rows.map((row) => row.claimedBy))) await this.release(claim, SUPPRESSIONS_RETRY_MS);
        return;
      }
      // Each row frees its slot as soon as it is done, so one slow SMTP answer holds one slot, not the claim's.
      await Promise.all(
        rows.map((row) =>
          this.deliver(row, entries)
            .catch((error: Error) => this.warn(`delivery ${row.dispatchId} left for recovery after its lease: ${error.message}`))
            .finally(() => {
              this.inFlightRows -= 1;
              if (this.behind) this.kick();
            }),
        ),
      );
    })();
    this.claims.add(claim);
    void claim.finally(() => this.claims.delete(claim));
  }

  /** One claimed row through the state machine until it waits (retrying), or is final. */
  async deliver(row: ClaimedRow, entries: readonly SuppressionEntry[]): Promise<DeliveryStep> {
    const request = row.request;
    let state = row.state;
    let from: DeliveryStatus = row.status;

    if (from === 'sending') {
      // Claimed while still in flight: the instance that held it died (its lease ended). SMTP may have accepted the
      // mail before the crash; sending it again with the same Message-ID is the documented answer.
      const interrupted = this.advance(state, { type: 'smtp-temporary', detail: 'interrupted: the process stopped between handing the message over and recording the answer' });
      return (await this.write(row, from, interrupted, this.dueOf(interrupted))) ? interrupted.status : 'lost-claim';
    }

    if (from === 'received' || from === 'retrying') {
      const check = checkSend(
        {
          channel: request.channel,
          purpose: request.channel === 'email' ? request.purpose : 'transactional',
          profileId: request.profileId,
          ...(addressOf(row) ? { address: addressOf(row) } : {}),
          ...(request.reason.consent ? { consent: request.reason.consent } : {}),
        },
        entries,
      );
      if (!check.allowed) {
        const suppressed = this.advance(state, { type: 'suppressed', reason: check.reason });
        return (await this.write(row, from, suppressed, null)) ? 'suppressed' : 'lost-claim';
      }
      if (state.status === 'retrying' && Date.parse(state.nextAttemptAt) > Date.now()) {
        // Claimed a moment early (the database's clock against this process's): the state machine sends only when due.
        await sleep(Date.parse(state.nextAttemptAt) - Date.now() + 1);
      }
      let stored = row.mail;
      let links = row.links;
      let recipient: string | undefined;
      if (from === 'received') {
        state = this.advance(state, { type: 'allowed' }); // rendering: pure work in memory, never a visible row state
        const prepared = this.prepare(request);
        if (!prepared.ok) {
          const failed = this.advance(state, { type: 'render-failed', detail: prepared.detail });
          return (await this.write(row, from, failed, null)) ? 'failed' : 'lost-claim';
        }
        stored = prepared.stored;
        links = prepared.links ?? null;
        recipient = prepared.recipient;
        state = this.advance(state, { type: 'rendered' });
      } else {
        state = this.advance(state, { type: 'allowed' });
      }
      if (!stored) throw new Error(`delivery ${row.dispatchId} is due for a retry but has no stored message`);
      // Written before the attempt: a crash from here on leaves `sending` under a lease, never an unrecorded send.
      const sending = await timedStep('mark-sending', () =>
        this.transitions.submit({
          dispatchId: row.dispatchId,
          from,
          claimedBy: row.claimedBy,
          state,
          dueAt: new Date(Date.now() + this.settings.leaseMs),
          mail: stored,
          ...(links ? { links } : {}),
          ...(recipient ? { recipient } : {}),
          outbox: [],
        }),
      );
      if (!sending) return 'lost-claim';
      from = 'sending';
      this.attempting.set(row.dispatchId, row.claimedBy);
      try {
        const answer = await this.attempt(row.dispatchId, stored);
        if (answer.type === 'smtp-unreachable' && this.smtpUnreachableSince === undefined) {
          this.smtpUnreachableSince = Date.now();
          this.logger.warn(`no SMTP server answers (${answer.detail}): deliveries wait for it, none fails for it; readiness reports smtp`);
        }
        const next = this.advance(state, answer);
        // Waiting again for an unreachable relay is no new fact: its 'retried' outcome (same id) is out already.
        const repeated = answer.type === 'smtp-unreachable' && row.status === 'retrying';
        return (await timedStep('record-answer', () => this.write(row, from, next, this.dueOf(next), 8, repeated))) ? next.status : 'lost-claim';
      } finally {
        // Only this claim's entry: after a long outage the row may have been claimed again here meanwhile.
        if (this.attempting.get(row.dispatchId) === row.claimedBy) this.attempting.delete(row.dispatchId);
      }
    }
    // Final states are never claimed (the claim only takes open statuses).
    return row.status;
  }

  /** The gauges this use case reports, each with what observes it. */
  private gauges(): Array<[ObservableGauge, ObservableCallback]> {
    const { inFlight, smtpReachable, dueDeliveries, oldestDue, outboxOldest, outboxRefusedRows } = dispatchMetrics();
    return [
      [inFlight, this.observeInFlight],
      [smtpReachable, this.observeSmtp],
      [dueDeliveries, this.observeBacklog],
      [oldestDue, this.observeOldestDue],
      [outboxOldest, this.observeOutboxOldest],
      [outboxRefusedRows, this.observeOutboxRefused],
    ];
  }

  /**
   * Reads the backlog now and again every BACKLOG_LOOK_MS; a failed or hanging read keeps the last figures (an outage
   * shows in readiness) and the next look is scheduled all the same.
   */
  private lookAtBacklog(): void {
    void within(this.deliveries.backlog(), BACKLOG_LOOK_MS)
      .then((backlog) => (this.backlog = backlog))
      .catch(() => undefined)
      .finally(() => {
        if (this.running) this.backlogTimer = setTimeout(() => this.lookAtBacklog(), BACKLOG_LOOK_MS).unref();
      });
  }

  private prepare(request: DispatchRequestRecord): { ok: true; stored: StoredMail; links?: Array<{ index: number; url: string }>; recipient?: string } | { ok: false; detail: string } {
    if (request.channel === 'webhook') return { ok: true, stored: { kind: 'webhook', url: request.url, body: JSON.stringify(request.body), ...(request.secretName ? { secretName: request.secretName } : {}) } };
    const composed = this.composer.compose(request);
    if (!composed.ok) return composed;
    return { ok: true, stored: { kind: 'email', mail: composed.mail }, links: composed.links, recipient: composed.mail.to.address };
  }

  private async attempt(dispatchId: string, stored: StoredMail): Promise<DeliveryEvent> {
    const started = performance.now();
    const answer = await this.attemptOnce(dispatchId, stored);
    const result = answer.type.replace(/^smtp-/, '');
    dispatchMetrics().attemptDuration.record((performance.now() - started) / 1000, { channel: stored.kind, result });
    return answer;
  }

  private async attemptOnce(dispatchId: string, stored: StoredMail): Promise<DeliveryEvent> {
    if (stored.kind === 'webhook') {
      const answer = await this.webhooks.post(dispatchId, stored.url, stored.body, stored.secretName);
      if (!answer.ok) return { type: 'smtp-temporary', detail: answer.error };
      const event = classifyWebhookStatus(answer.status, answer.body);
      return event.type === 'smtp-accepted' ? { ...event, messageId: dispatchId } : event;
    }
    const answer = await this.mail.send(stored.mail);
    if (answer.ok) return { type: 'smtp-accepted', messageId: answer.messageId, response: answer.response };
    return classifySmtpFailure(answer.error);
  }

  /** Readiness: an unreachable relay makes dispatch not ready (the deliveries wait in the table meanwhile). */
  smtpStatus(): true | string {
    if (this.smtpUnreachableSince === undefined) return true;
    return `unreachable for ${Math.round((Date.now() - this.smtpUnreachableSince) / 1000)} s`;
  }

  /** One probe of the relay while it is down; true (and claiming again) once it answers. */
  private async smtpBack(): Promise<boolean> {
    if (!(await this.mail.verify())) return false;
    this.logger.log(`the SMTP server answers again after ${Math.round((Date.now() - (this.smtpUnreachableSince ?? Date.now())) / 1000)} s; the waiting deliveries go out`);
    this.smtpUnreachableSince = undefined;
    return true;
  }

  private advance(state: DeliveryState, event: DeliveryEvent): DeliveryState {
    const next = advanceDelivery(state, event, { now: new Date(), random: Math.random, policy: this.settings.retry });
    if (!next.ok) throw new Error(next.message);
    return next.state;
  }

  private dueOf(state: DeliveryState): Date | null {
    return state.status === 'retrying' ? new Date(state.nextAttemptAt) : null;
  }

  /**
   * Writes a new state with its outcomes. After an SMTP answer (`tries` > 1) a failed write is retried for a while:
   * giving up would leave the row `sending` and the mail sent again after the lease.
   */
  private async write(row: ClaimedRow, from: DeliveryStatus, state: DeliveryState, dueAt: Date | null, tries = 1, silent = false): Promise<boolean> {
    const at = new Date();
    const outbox = silent ? [] : stateRecords(row.request, state, at, this.settings.deadLetterTopic, this.settings.groupId);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const written = await this.transitions.submit({ dispatchId: row.dispatchId, from, claimedBy: row.claimedBy, state, dueAt, outbox });
        if (written && outbox.length > 0) this.outbox.kick();
        return written;
      } catch (error) {
        if (attempt >= tries) throw error;
        this.warn(`state of ${row.dispatchId} not written yet (attempt ${attempt}): ${(error as Error).message}`);
        await sleep(Math.min(250 * 2 ** attempt, 5_000));
      }
    }
  }

  private warn(message: string): void {
    if (Date.now() - this.lastWarning < 5_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(message);
  }
}

function addressOf(row: DeliveryRow): string | undefined {
  if (row.recipient) return row.recipient;
  return row.request.channel === 'email' ? recipientOf(row.request) : undefined;
}

/** Seconds from `at` to now; 0 when nothing waits. */
function secondsSince(at: Date | null): number {
  return at ? Math.max(0, Date.now() - at.getTime()) / 1000 : 0;
}

/** How often the backlog metrics are read from the deliveries table. */
const BACKLOG_LOOK_MS = 10_000;

/** The work's result, or a rejection once `ms` passed; the timer neither outlives the work nor holds the process. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

