import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import PostalMime from 'postal-mime';
import { inboxPage, messagePage } from './inbox-page';

export interface SmtpSinkOptions {
  smtpPort: number;
  httpPort: number;
  /** Received mail is kept here as <id>.eml, so people can open it with any mail client. */
  mailDir: string;
  /** How long stop() lets open client connections (an SMTP pool's idle ones) finish; smtp-server's 30 s by default. */
  closeTimeoutMs?: number;
  /** Told of every message as it is accepted (benchmarks time acceptance with it). */
  onMessage?: (message: StoredMessage) => void;
}

/**
 * Recipients the sink refuses, so delivery failures can be tried against real SMTP: a local part starting with
 * `reject-` gets `550 5.1.1` (permanent), one starting with `tempfail-` gets `451 4.3.0` (temporary).
 */
export const SINK_REJECTS = { permanent: /^reject-/i, temporary: /^tempfail-/i } as const;

export interface StoredMessage {
  id: string;
  receivedAt: string;
  envelope: { from: string; to: string[] };
  subject: string;
  size: number;
}

export interface RunningSmtpSink {
  smtpUrl: string;
  inboxUrl: string;
  /** An SMTP outage: the SMTP port stops answering (open connections are cut after closeTimeoutMs); the inbox stays up. */
  stopSmtp(): Promise<void>;
  /** The end of the outage: SMTP listens on the same port again; what was received before is kept. */
  startSmtp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A local SMTP server that accepts every message and keeps it: as an .eml file and through a small HTTP API
 * (GET /messages, GET /messages/:id for headers/text/html, GET /messages/:id/raw, DELETE /messages) and two pages for
 * people: GET / lists the mail, GET /view/:id shows one rendered, with its headers.
 * It is the development and test stand-in for a real relay; it speaks real SMTP, so nodemailer is used unchanged.
 */
export async function startSmtpSink(options: SmtpSinkOptions): Promise<RunningSmtpSink> {
  mkdirSync(options.mailDir, { recursive: true });
  const index = new Map<string, StoredMessage>();

  const createSmtp = () => new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 25 * 1024 * 1024,
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeout: options.closeTimeoutMs }),
    onRcptTo(address, _session, callback) {
      const local = address.address.split('@')[0] ?? '';
      if (SINK_REJECTS.permanent.test(local)) return callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 }));
      if (SINK_REJECTS.temporary.test(local)) return callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const id = `${Date.now()}-${randomUUID().slice(0, 8)}`;
        // Off the event loop: a synchronous write held every other connection of the sink (a tenth of the dispatch
        // benchmark's own process was spent blocked in open()). Accepted only once stored; a failed write is a 451.
        try {
          await writeFile(join(options.mailDir, `${id}.eml`), raw);
        } catch (error) {
          callback(Object.assign(new Error(`4.3.0 the sink could not store the message: ${(error as Error).message}`), { responseCode: 451 }));
          return;
        }
        // The index needs only the subject: the header block is parsed, not the body. Parsing whole mails was a sixth
        // of the dispatch benchmark's own process, which shares the machine with what it measures.
        const headerEnd = raw.indexOf('\r\n\r\n');
        const parsed = await PostalMime.parse(headerEnd < 0 ? raw : raw.subarray(0, headerEnd + 4)).catch(() => undefined);
        const stored: StoredMessage = {
          id,
          receivedAt: new Date().toISOString(),
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          },
          subject: parsed?.subject ?? '',
          size: raw.length,
        };
        index.set(id, stored);
        options.onMessage?.(stored);
        callback();
      });
    },
  });
  let smtp = createSmtp();
  const listenSmtp = () =>
    new Promise<void>((resolve, reject) => {
      smtp.on('error', reject);
      smtp.listen(options.smtpPort, '127.0.0.1', () => resolve());
    });
  const closeSmtp = () => new Promise<void>((resolve) => smtp.close(() => resolve()));

  const readRaw = (id: string): Buffer | undefined =>
    index.has(id) ? readFileSync(join(options.mailDir, `${id}.eml`)) : undefined;

  const http = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(type === 'application/json' ? JSON.stringify(body) : (body as string | Buffer));
    };
    const url = new URL(req.url ?? '/', 'http://sink');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && parts.length === 0) return send(200, inboxPage([...index.values()]), 'text/html; charset=utf-8');
    if (req.method === 'GET' && parts[0] === 'view' && parts.length === 2) {
      const raw = readRaw(parts[1]);
      if (!raw) return send(404, { error: `no message ${parts[1]}` });
      const parsed = await PostalMime.parse(raw);
      return send(200, messagePage({ id: parts[1], subject: parsed.subject ?? '', headers: parsed.headers, html: parsed.html, text: parsed.text }), 'text/html; charset=utf-8');
    }
    if (parts[0] !== 'messages') return send(404, { error: 'not found; try GET / (the inbox page) or GET /messages' });
    if (req.method === 'DELETE' && parts.length === 1) {
      index.clear();
      for (const file of readdirSync(options.mailDir)) rmSync(join(options.mailDir, file));
      return send(200, { deleted: true });
    }
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    if (parts.length === 1) {
      const to = url.searchParams.get('to');
      const messages = [...index.values()].filter((message) => !to || message.envelope.to.includes(to));
      return send(200, { count: messages.length, messages });
    }
    const raw = readRaw(parts[1]);
    if (!raw) return send(404, { error: `no message ${parts[1]}` });
    if (parts[2] === 'raw') return send(200, raw, 'message/rfc822');
    const parsed = await PostalMime.parse(raw);
    return send(200, {
      ...index.get(parts[1]),
      headers: parsed.headers,
      from: parsed.from,
      to: parsed.to,
      text: parsed.text,
      html: parsed.html,
    });
  });

  await listenSmtp();
  await new Promise<void>((resolve, reject) => {
    http.on('error', reject);
    http.listen(options.httpPort, '127.0.0.1', () => resolve());
  });
  return {
    smtpUrl: `smtp://127.0.0.1:${options.smtpPort}`,
    inboxUrl: `http://127.0.0.1:${options.httpPort}/messages`,
    async stopSmtp() {
      await closeSmtp();
    },
    async startSmtp() {
      smtp = createSmtp();
      await listenSmtp();
    },
    async stop() {
      await closeSmtp();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
