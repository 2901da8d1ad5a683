import { Inject, Injectable } from '@nestjs/common';
import { addressSubject, EngagementKind, profileSubject, TokenClaims } from '@kairos/dispatch-core';
import { DeliveriesRepository, DeliveryRow } from '../delivery/deliveries.repository';
import { engagementRecord, OutcomeSubject, outcomeRecord, subjectOf } from '../delivery/delivery-records';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';
import { OutboxRecord } from '../outbox/outbox-record';
import { OutboxRelay } from '../outbox/outbox-relay';
import { EngagementRepository } from './engagement.repository';

/** Who did it, from where: the proof kept with a consent change. */
export interface Witness {
  ip?: string;
  userAgent?: string;
  method: string;
}

/** A delivery-status notification (DSN as JSON): a bounce or a complaint. */
export interface DeliveryReport {
  type: 'hard-bounce' | 'soft-bounce' | 'complaint';
  recipient?: string;
  dispatchId?: string;
  status?: string;
  diagnostic?: string;
}

export const MARKETING = 'email.marketing';

/**
 * What a recipient did through dispatch's endpoints, recorded where it takes effect at once — the suppression list the
 * send-time check reads — with the proof, and published (outcome and Segment event for ingestion) through the outbox
 * in the same transaction.
 */
@Injectable()
export class RecordEngagementUseCase {
  constructor(
    @Inject(EngagementRepository) private readonly engagement: EngagementRepository,
    @Inject(DeliveriesRepository) private readonly deliveries: DeliveriesRepository,
    @Inject(OutboxRelay) private readonly outbox: OutboxRelay,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
  ) {}

  async unsubscribe(claims: TokenClaims, witness: Witness): Promise<void> {
    const { row, subject } = await this.subject(claims);
    const at = new Date();
    const proof = this.proof(claims, row, witness, at);
    await this.engagement.inTransaction(async (writes) => {
      await writes.suppress(profileSubject(claims.profileId), 'marketing', 'unsubscribed', at, proof);
      await writes.recordConsent(claims.profileId, MARKETING, 'withdrawn', at, proof);
      return [outcomeRecord(subject, 'unsubscribed', at, { method: witness.method, proof }), this.event('unsubscribed', claims, row, at, witness, { purpose: 'marketing' })];
    });
    this.outbox.kick();
  }

  async resubscribe(claims: TokenClaims, witness: Witness): Promise<void> {
    const { row } = await this.subject(claims);
    const at = new Date();
    const proof = this.proof(claims, row, witness, at);
    await this.engagement.inTransaction(async (writes) => {
      await writes.liftUnsubscribe(profileSubject(claims.profileId));
      await writes.recordConsent(claims.profileId, MARKETING, 'granted', at, proof);
      return [this.event('resubscribed', claims, row, at, witness, { purpose: 'marketing', wording: 'Resubscribed on the unsubscribe confirmation page' })];
    });
    this.outbox.kick();
  }

  async confirm(claims: TokenClaims, witness: Witness): Promise<void> {
    const { row, subject } = await this.subject(claims);
    const at = new Date();
    const proof = this.proof(claims, row, witness, at);
    await this.engagement.inTransaction(async (writes) => {
      await writes.liftUnsubscribe(profileSubject(claims.profileId));
      await writes.recordConsent(claims.profileId, MARKETING, 'confirmed', at, proof);
      return [outcomeRecord(subject, 'confirmed', at, { method: witness.method, proof }), this.event('confirmed', claims, row, at, witness, { purpose: 'marketing' })];
    });
    this.outbox.kick();
  }

  async open(claims: TokenClaims, witness: Witness): Promise<void> {
    const { row, subject } = await this.subject(claims);
    const at = new Date();
    await this.engagement.publish([outcomeRecord(subject, 'opened', at), this.event('opened', claims, row, at, witness)]);
    this.outbox.kick();
  }

  async click(claims: TokenClaims, url: string, witness: Witness): Promise<void> {
    const { row, subject } = await this.subject(claims);
    const at = new Date();
    const link = claims.link?.index ?? 0;
    await this.engagement.publish([
      outcomeRecord(subject, 'clicked', at, { url, link }, link),
      this.event('clicked', claims, row, at, witness, { url, link }, String(link)),
    ]);
    this.outbox.kick();
  }

  /**
   * A bounce or complaint: a hard bounce suppresses the address for all mail, a complaint for marketing mail, soft
   * bounces are counted and suppress the address at DISPATCH_SOFT_BOUNCE_LIMIT. Answers what it did, or why not.
   */
  async report(report: DeliveryReport): Promise<{ dispatchId?: string; suppressed: boolean }> {
    const dispatchId = report.dispatchId ?? (report.recipient ? await this.engagement.latestDispatchTo(report.recipient) : undefined);
    const row = dispatchId ? await this.deliveries.find(dispatchId) : undefined;
    const address = report.recipient ?? row?.recipient ?? undefined;
    if (!address) throw new UnknownRecipientError('the report names no recipient, and no delivery with a recipient matches its dispatch id');
    const at = new Date();
    // The relay's diagnostic often quotes the address ("550 5.1.1 <anna@…>: user unknown"): kept without it, so the
    // suppression (which outlives an erasure) holds the address only as its digest.
    const quoted = [report.recipient, row?.recipient].flatMap((candidate) => (candidate?.trim() ? [escapeRegExp(candidate.trim())] : []));
    const diagnostic = quoted.length === 0 ? report.diagnostic : report.diagnostic?.replace(new RegExp(quoted.join('|'), 'gi'), '<recipient>');
    const proof = { at: at.toISOString(), type: report.type, ...(report.status ? { status: report.status } : {}), ...(diagnostic ? { diagnostic } : {}), ...(dispatchId ? { dispatchId } : {}) };
    let suppressed = false;
    await this.engagement.inTransaction(async (writes) => {
      if (report.type === 'hard-bounce') {
        await writes.suppress(addressSubject(address), 'all', 'hard-bounce', at, proof);
        suppressed = true;
      } else if (report.type === 'complaint') {
        await writes.suppress(addressSubject(address), 'marketing', 'complaint', at, proof);
        suppressed = true;
      } else if ((await writes.countSoftBounce(addressSubject(address), at, this.settings.softBounceWindowMs)) >= this.settings.softBounceLimit) {
        await writes.suppress(addressSubject(address), 'all', 'soft-bounces', at, proof);
        suppressed = true;
      }
      if (!row) return [];
      const claims: TokenClaims = { purpose: 'open', profileId: row.profileId, dispatchId: row.dispatchId };
      const kind = report.type === 'complaint' ? 'complained' : 'bounced';
      const detail = { ...proof, suppressed, ...(report.type === 'complaint' ? {} : { bounceType: report.type === 'hard-bounce' ? 'hard' : 'soft' }) };
      return [
        outcomeRecord(subjectOf(row.request), kind, at, detail),
        this.event(kind, claims, row, at, { method: 'report' }, report.type === 'complaint' ? {} : { bounceType: report.type === 'hard-bounce' ? 'hard' : 'soft' }),
      ];
    });
    this.outbox.kick();
    return { ...(dispatchId ? { dispatchId } : {}), suppressed };
  }

  async consentOf(profileId: string) {
    return this.engagement.consent(profileId, MARKETING);
  }

  private async subject(claims: TokenClaims): Promise<{ row: DeliveryRow | undefined; subject: OutcomeSubject }> {
    const row = await this.deliveries.find(claims.dispatchId);
    return { row, subject: row ? subjectOf(row.request) : { dispatchId: claims.dispatchId, profileId: claims.profileId, channel: 'email' } };
  }

  private proof(claims: TokenClaims, row: DeliveryRow | undefined, witness: Witness, at: Date): Record<string, unknown> {
    const mail = row?.mail?.kind === 'email' ? row.mail.mail : undefined;
    return {
      at: at.toISOString(),
      method: witness.method,
      ...(witness.ip ? { ip: witness.ip } : {}),
      ...(witness.userAgent ? { userAgent: witness.userAgent } : {}),
      dispatchId: claims.dispatchId,
      ...(mail ? { messageId: mail.messageId, subject: mail.subject } : {}),
      ...(row?.request.channel === 'email' ? { templateId: row.request.templateId } : {}),
    };
  }

  private event(kind: EngagementKind, claims: TokenClaims, row: DeliveryRow | undefined, at: Date, witness: Witness | { method: string }, properties: Record<string, unknown> = {}, discriminator?: string): OutboxRecord {
    const { ip, userAgent } = witness as Witness;
    return engagementRecord({
      kind,
      profileId: claims.profileId,
      dispatchId: claims.dispatchId,
      at,
      ...(discriminator ? { discriminator } : {}),
      properties: { ...properties, ...(row?.request.channel === 'email' ? { templateId: row.request.templateId } : {}) },
      ...(ip ? { ip } : {}),
      ...(userAgent ? { userAgent } : {}),
    });
  }
}

export class UnknownRecipientError extends Error {
  override readonly name = 'UnknownRecipientError';
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
