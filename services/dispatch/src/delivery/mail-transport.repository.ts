import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ComposedMail, DKIM_HEADER_FIELD_NAMES } from '@kairos/dispatch-core';
import { createTransport, Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';

export type SmtpAnswer = { ok: true; messageId: string; response: string } | { ok: false; error: { message?: string; code?: string; responseCode?: number; response?: string } };

/**
 * The SMTP side of dispatch: one nodemailer pool (SMTP_POOL_CONNECTIONS connections, SMTP_RATE_PER_SECOND), DKIM
 * when configured, signing List-Unsubscribe-Post too. Answers instead of throwing: the state machine decides.
 */
@Injectable()
export class MailTransportRepository implements OnApplicationShutdown {
  private readonly transporter: Transporter<SMTPPool.SentMessageInfo>;

  constructor(@Inject(DISPATCH_SETTINGS) settings: DispatchSettings) {
    const { smtp } = settings;
    const options: SMTPPool.Options = {
      url: smtp.url,
      pool: true,
      maxConnections: smtp.poolConnections,
      maxMessages: Number.POSITIVE_INFINITY,
      connectionTimeout: smtp.timeoutMs,
      greetingTimeout: smtp.timeoutMs,
      socketTimeout: smtp.timeoutMs,
      ...(smtp.ratePerSecond > 0 ? { rateDelta: 1_000, rateLimit: smtp.ratePerSecond } : {}),
      ...(smtp.dkim ? { dkim: { ...smtp.dkim, headerFieldNames: DKIM_HEADER_FIELD_NAMES } } : {}),
    };
    this.transporter = createTransport(options);
  }

  async send(mail: ComposedMail): Promise<SmtpAnswer> {
    try {
      const info = await this.transporter.sendMail({ ...mail, disableFileAccess: true, disableUrlAccess: true });
      const rejected = info.rejected ?? [];
      if (rejected.length > 0) return { ok: false, error: { message: `recipient rejected: ${info.response}`, code: 'EENVELOPE', responseCode: 550, response: info.response } };
      return { ok: true, messageId: info.messageId, response: info.response };
    } catch (error) {
      const failure = error as { message?: string; code?: string; responseCode?: number; response?: string };
      return { ok: false, error: { message: failure.message, code: failure.code, responseCode: failure.responseCode, response: failure.response } };
    }
  }

  onApplicationShutdown(): void {
    this.transporter.close();
  }
}
