import { timingSafeEqual } from 'node:crypto';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { TokenPurpose, TokenVerification, verifyClickToken, verifyToken } from '@kairos/dispatch-core';
import { SchemaValidator, describeIssues } from '@kairos/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';
import { confirmedPage, PIXEL, preferencesPage, refusedPage, resubscribedPage, unsubscribedPage } from './engagement-pages';
import { DeliveryReport, RecordEngagementUseCase, UnknownRecipientError, Witness } from './record-engagement.use-case';
import { reportsInMail } from './report-mail';

const REPORT_SCHEMA = {
  $id: 'kairos:dispatch-delivery-report',
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: { enum: ['hard-bounce', 'soft-bounce', 'complaint'] },
    recipient: { type: 'string', maxLength: 254 },
    dispatchId: { type: 'string', maxLength: 512 },
    status: { type: 'string', maxLength: 32 },
    diagnostic: { type: 'string', maxLength: 1000 },
  },
};

/**
 * Dispatch's public endpoints (DISPATCH_PORT): transport only. Every token is verified before anything is read or
 * written; a malformed token is a 400, a forged or altered one (bad signature, unknown key, wrong purpose, a click URL
 * that was not that link of that mail) a 403 — never a redirect, never a write.
 */
@Controller()
export class EngagementController {
  private readonly validator = new SchemaValidator([REPORT_SCHEMA]);

  constructor(
    @Inject(RecordEngagementUseCase) private readonly engagement: RecordEngagementUseCase,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
  ) {}

  /** The visible unsubscribe link: unsubscribes and says so, with a way back. */
  @Get('u/:token')
  async unsubscribePage(@Param('token') token: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'unsubscribe', reply, 'html');
    if (!claims) return;
    await this.engagement.unsubscribe(claims, witness(request, 'link'));
    await reply.status(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(unsubscribedPage(`/u/${token}/resubscribe`));
  }

  /** RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click`; whatever the body, the token decides. */
  @Post('u/:token')
  async oneClick(@Param('token') token: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'unsubscribe', reply, 'json');
    if (!claims) return;
    await this.engagement.unsubscribe(claims, witness(request, 'one-click'));
    await reply.status(200).send({ unsubscribed: true });
  }

  @Post('u/:token/resubscribe')
  async resubscribe(@Param('token') token: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'unsubscribe', reply, 'html');
    if (!claims) return;
    await this.engagement.resubscribe(claims, witness(request, 'resubscribe-page'));
    await reply.status(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(resubscribedPage());
  }

  /** The preferences link of the footer: shows the marketing subscription; changing it is a POST (link scanners only GET). */
  @Get('preferences/:token')
  async preferences(@Param('token') token: string, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'unsubscribe', reply, 'html');
    if (!claims) return;
    const consent = await this.engagement.consentOf(claims.profileId);
    await reply.status(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(preferencesPage(`/preferences/${token}`, consent?.status !== 'withdrawn'));
  }

  @Post('preferences/:token')
  async changePreferences(@Param('token') token: string, @Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'unsubscribe', reply, 'html');
    if (!claims) return;
    const choice = (body as { choice?: unknown } | undefined)?.choice;
    if (choice !== 'unsubscribe' && choice !== 'subscribe') {
      await reply.status(400).send({ error: 'invalid-choice', message: 'choice must be unsubscribe or subscribe' });
      return;
    }
    if (choice === 'unsubscribe') await this.engagement.unsubscribe(claims, witness(request, 'preferences-page'));
    else await this.engagement.resubscribe(claims, witness(request, 'preferences-page'));
    await reply.status(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(preferencesPage(`/preferences/${token}`, choice === 'subscribe'));
  }

  /** The double opt-in link: records the confirmed consent with its proof (time, IP, user agent, the mail). */
  @Get('confirm/:token')
  async confirm(@Param('token') token: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'confirm', reply, 'html');
    if (!claims) return;
    await this.engagement.confirm(claims, witness(request, 'confirm-link'));
    await reply.status(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(confirmedPage());
  }

  @Get('o/:token')
  async open(@Param('token') token: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const claims = this.verified(token, 'open', reply, 'json');
    if (!claims) return;
    await this.engagement.open(claims, witness(request, 'pixel'));
    await reply.status(200).type('image/gif').header('cache-control', 'no-store, private').send(PIXEL);
  }

  /** Redirects only to the URL the token was signed for: that link of that mail. No open redirect. */
  @Get('c/:token')
  async click(@Param('token') token: string, @Query('u') url: string | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (typeof url !== 'string' || url.length === 0) {
      await reply.status(400).send({ error: 'missing-url', message: 'a click link carries its target as ?u=' });
      return;
    }
    const verification = verifyClickToken(token, url, this.settings.keys);
    if (!verification.ok) return this.refuse(verification, reply, 'html');
    await this.engagement.click(verification.claims, url, witness(request, 'click'));
    // Percent-encoded for the header (a product slug with "€" or "–" is not a valid header value as it stands); the
    // same address, as a browser would write it.
    await reply.status(302).header('location', locationOf(url)).header('cache-control', 'no-store').send();
  }

  /**
   * Delivery-status notifications: as JSON {type: hard-bounce|soft-bounce|complaint, recipient?, dispatchId?, status?,
   * diagnostic?}, or as the report mail itself (Content-Type multipart/report or message/rfc822: an RFC 3464 bounce or
   * an RFC 5965 abuse report), which answers what it recorded for each recipient the report names.
   */
  @Post('bounces')
  @HttpCode(200)
  async report(@Body() body: unknown, @Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (this.settings.bounceToken !== undefined && !sameSecret(authorization ?? '', `Bearer ${this.settings.bounceToken}`)) {
      await reply.status(401).send({ error: 'unauthorized', message: 'Authorization: Bearer <DISPATCH_BOUNCE_TOKEN> required' });
      return;
    }
    if (Buffer.isBuffer(body)) {
      const reports = await reportsInMail(body);
      if (reports === undefined) {
        await reply.status(400).send({ error: 'invalid-report', message: 'the mail holds no message/delivery-status or message/feedback-report part' });
        return;
      }
      const recorded = [];
      for (const report of reports) {
        if (!report.recipient && !report.dispatchId) continue;
        recorded.push(
          await this.engagement.report(report).then(
            (result) => ({ type: report.type, ...(report.recipient ? { recipient: report.recipient } : {}), ...result }),
            (error: Error) => {
              if (!(error instanceof UnknownRecipientError)) throw error;
              return { type: report.type, error: 'unknown-recipient', message: error.message };
            },
          ),
        );
      }
      await reply.status(200).send({ reports: recorded });
      return;
    }
    const result = this.validator.validate<DeliveryReport>('kairos:dispatch-delivery-report', body);
    if (!result.valid) {
      await reply.status(400).send({ error: 'invalid-report', message: describeIssues(result.issues) });
      return;
    }
    if (!result.value.recipient && !result.value.dispatchId) {
      await reply.status(400).send({ error: 'invalid-report', message: 'a report needs a recipient or a dispatchId' });
      return;
    }
    try {
      await reply.status(200).send(await this.engagement.report(result.value));
    } catch (error) {
      if (!(error instanceof UnknownRecipientError)) throw error;
      await reply.status(404).send({ error: 'unknown-recipient', message: error.message });
    }
  }

  private verified(token: string, purpose: TokenPurpose, reply: FastifyReply, as: 'html' | 'json') {
    const verification = verifyToken(token, purpose, this.settings.keys);
    if (verification.ok) return verification.claims;
    void this.refuse(verification, reply, as);
    return undefined;
  }

  private async refuse(verification: Extract<TokenVerification, { ok: false }>, reply: FastifyReply, as: 'html' | 'json'): Promise<void> {
    const status = verification.reason === 'malformed' ? 400 : 403;
    if (as === 'html') await reply.status(status).type('text/html; charset=utf-8').send(refusedPage(verification.reason));
    else await reply.status(status).send({ error: 'invalid-token', reason: verification.reason });
  }
}

function witness(request: FastifyRequest, method: string): Witness {
  const userAgent = request.headers['user-agent'];
  return { method, ip: request.ip, ...(typeof userAgent === 'string' ? { userAgent: userAgent.slice(0, 500) } : {}) };
}

/** A URL as a Location header can carry it: what is not ASCII percent-encoded (WHATWG URL serialisation). */
export function locationOf(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return encodeURI(url);
  }
}

/** Compares a presented secret in constant time. */
function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
