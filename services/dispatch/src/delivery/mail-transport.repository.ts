import { connect, Socket } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import { ComposedMail, DKIM_HEADER_FIELD_NAMES, preferredTextEncoding, quotedPrintablePart, TransportErrorLike } from '@kairos/dispatch-core';
import { createTransport, Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';

export type SmtpAnswer = { ok: true; messageId: string; response: string } | { ok: false; error: TransportErrorLike };

/**
 * The SMTP side of dispatch: one nodemailer pool (SMTP_POOL_CONNECTIONS connections, SMTP_RATE_PER_SECOND), DKIM
 * when configured, signing List-Unsubscribe-Post too. Answers instead of throwing: the state machine decides.
 * Closed by DeliverUseCase once the deliveries in hand are done, not by a shutdown hook of its own: nodemailer's pool
 * never calls back a message handed to it after close(), so a delivery that reached it during the stop held the stop
 * until the process was killed, and its row stayed `sending` until its lease ended.
 */
@Injectable()
export class MailTransportRepository {
  private readonly transporter: Transporter<SMTPPool.SentMessageInfo>;
  private closed = false;

  constructor(@Inject(DISPATCH_SETTINGS) settings: DispatchSettings) {
    this.transporter = createTransport(transportOptions(settings));
  }

  async send(mail: ComposedMail): Promise<SmtpAnswer> {
    // An outage of the relay as far as the mail is concerned: it waits in `retrying` without using an attempt.
    if (this.closed) return { ok: false, error: { message: 'the SMTP pool is closed: dispatch is stopping', code: 'ECONNECTION' } };
    try {
      // The encoding nodemailer would choose, decided without its per-mail regex arrays (text-encoding.ts).
      const textEncoding = preferredTextEncoding(mail.html, mail.text ?? '', mail.subject);
      const info = await this.transporter.sendMail({ ...mail, ...encodedParts(mail, textEncoding), textEncoding, disableFileAccess: true, disableUrlAccess: true });
      const rejected = info.rejected ?? [];
      if (rejected.length > 0) return { ok: false, error: { message: `recipient rejected: ${info.response}`, code: 'EENVELOPE', responseCode: 550, response: info.response } };
      return { ok: true, messageId: info.messageId, response: info.response };
    } catch (error) {
      const failure = error as TransportErrorLike;
      return { ok: false, error: { message: failure.message, code: failure.code, syscall: failure.syscall, responseCode: failure.responseCode, response: failure.response } };
    }
  }

  /** Whether the relay answers an SMTP greeting now (a connection of the pool's own settings, closed after). */
  async verify(): Promise<boolean> {
    return this.transporter.verify().then(
      () => true,
      () => false,
    );
  }

  close(): void {
    this.closed = true;
    this.transporter.close();
  }
}

/**
 * A mail's text and HTML, quoted-printable encoded here in one pass over their bytes rather than by nodemailer's
 * encoder (quoted-printable.ts says why). Only for a multipart mail (HTML and text); a mail of HTML alone, or one
 * whose parts go as base64, is nodemailer's to encode.
 */
export function encodedParts(mail: ComposedMail, textEncoding: 'quoted-printable' | 'base64') {
  if (textEncoding !== 'quoted-printable' || mail.text === undefined) return {};
  return { html: quotedPrintablePart('text/html; charset=utf-8', mail.html), text: quotedPrintablePart('text/plain; charset=utf-8', mail.text) };
}

/**
 * nodemailer's pool options from SMTP_URL. Two things measured (npm run bench:dispatch) shape them:
 * - host and port, not `url`: with `url`, every pooled message cost a new connection (~145 ms on the local sink);
 * - for plain smtp:// (STARTTLS upgrades it as before), the pool gets connected sockets with TCP_NODELAY: nodemailer
 *   writes a message in several small chunks, and with Nagle's algorithm each mail waited ~40 ms for the server's
 *   delayed ACK. smtps:// keeps nodemailer's own TLS socket.
 */
export function transportOptions(settings: DispatchSettings): SMTPPool.Options {
  const { smtp } = settings;
  const url = new URL(smtp.url);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error(`SMTP_URL must be smtp:// or smtps://, not ${url.protocol}`);
  const secure = url.protocol === 'smtps:';
  return {
    pool: true,
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    maxConnections: smtp.poolConnections,
    maxMessages: Number.POSITIVE_INFINITY,
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    ...(smtp.ratePerSecond > 0 ? { rateDelta: 1_000, rateLimit: smtp.ratePerSecond } : {}),
    ...(smtp.dkim ? { dkim: { ...smtp.dkim, headerFieldNames: DKIM_HEADER_FIELD_NAMES } } : {}),
    ...(secure ? {} : { getSocket: (options: SMTPPool.Options, callback: (error: Error | null, socket?: { connection: Socket }) => void) => connectWithoutDelay(options, smtp.timeoutMs, callback) }),
  };
}

/**
 * Connects, sets TCP_NODELAY and hands the socket to the pool. A failed connect hands over nothing, so nodemailer
 * connects itself and fails as it always does: handing it the error instead leaves a dead resource in its pool (it
 * never emits 'error' for it), and after SMTP_POOL_CONNECTIONS refused connections every later message would hang.
 */
function connectWithoutDelay(options: SMTPPool.Options, timeoutMs: number, callback: (error: Error | null, socket?: { connection: Socket }) => void): void {
  let done = false;
  const finish = (socket?: Socket) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    callback(null, socket ? { connection: socket } : undefined);
  };
  const socket = connect(Number(options.port), String(options.host), () => {
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    finish(socket);
  });
  socket.once('error', () => finish());
  const timer = setTimeout(() => {
    socket.destroy();
    finish();
  }, timeoutMs);
}
