import { createHash } from 'node:crypto';
import { oneLine } from './one-line';
import { RenderedMessage } from './render-message';

export interface MailAddress {
  name: string;
  address: string;
}

export interface MailInput {
  dispatchId: string;
  purpose: 'marketing' | 'transactional';
  /** The template's or journey's From, `Shop <hello@shop.example>` or a bare address. */
  from: string;
  replyTo?: string;
  /** The profile's e-mail address and, if any, name: traits, so never trusted. */
  to: MailAddress | string;
  /** The domain Message-IDs are made in (the sending domain, the one DKIM signs for). */
  sendingDomain: string;
  message: RenderedMessage;
  /** Required for marketing mail: the one-click URL (https) and optionally a mailto: address. */
  unsubscribe?: { url: string; mailto?: string };
  /** Local stacks only: allow an http one-click URL, which RFC 8058 forbids. */
  allowInsecureUnsubscribe?: boolean;
}

/** The shape of nodemailer's message options (from, replyTo, to, subject, html, text, messageId, headers), so the
 * service passes it on as it is; addresses as {name, address} so nodemailer encodes names itself. */
export interface ComposedMail {
  from: MailAddress;
  replyTo?: MailAddress;
  to: MailAddress;
  subject: string;
  html: string;
  text?: string;
  messageId: string;
  headers: Record<string, string>;
}

export type ComposeFailureReason = 'invalid-address' | 'invalid-domain' | 'missing-unsubscribe' | 'invalid-unsubscribe';

export type ComposeResult = { ok: true; mail: ComposedMail } | { ok: false; reason: ComposeFailureReason; message: string };

/**
 * The header fields DKIM signs: nodemailer's default list (RFC 4871 5.5) plus List-Unsubscribe-Post, which the
 * default leaves out and which RFC 8058 requires to be signed. Pass `DKIM_HEADER_FIELD_NAMES` as nodemailer's
 * `dkim.headerFieldNames`.
 */
export const DKIM_SIGNED_HEADERS: readonly string[] = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type',
  'Content-Transfer-Encoding', 'Content-ID', 'Content-Description', 'Resent-Date', 'Resent-From', 'Resent-Sender',
  'Resent-To', 'Resent-Cc', 'Resent-Message-ID', 'In-Reply-To', 'References', 'List-Id', 'List-Help',
  'List-Unsubscribe', 'List-Subscribe', 'List-Post', 'List-Owner', 'List-Archive', 'List-Unsubscribe-Post',
];
export const DKIM_HEADER_FIELD_NAMES = DKIM_SIGNED_HEADERS.join(':');

/** Carries the dispatch id in every mail, so bounce and complaint reports (which quote headers) lead back to it. */
export const DISPATCH_ID_HEADER = 'X-Kairos-Dispatch-Id';

// Deliberately narrower than RFC 5322: no quoted local parts, comments or whitespace, so nothing a trait puts in an
// address can end a header line or add a recipient.
// eslint-disable-next-line no-control-regex
const ADDRESS = /^[^\s\u0000-\u001f\u007f@<>()[\]\\,;:"]+@[^\s\u0000-\u001f\u007f@<>()[\]\\,;:"]+\.[^\s\u0000-\u001f\u007f@<>()[\]\\,;:"]+$/u;
const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * Everything about a mail but its transport: addresses checked, Message-ID derived from the dispatch id, and for
 * marketing mail List-Unsubscribe with List-Unsubscribe-Post (RFC 8058). No header value can carry CR or LF.
 */
export function composeMail(input: MailInput): ComposeResult {
  if (!DOMAIN.test(input.sendingDomain)) return { ok: false, reason: 'invalid-domain', message: `sending domain "${input.sendingDomain}" is not a domain name` };
  const from = parseAddress(input.from);
  const replyTo = input.replyTo === undefined ? undefined : parseAddress(input.replyTo);
  const to = typeof input.to === 'string' ? parseAddress(input.to) : checkAddress(input.to);
  if (from === null) return invalidAddress('from');
  if (replyTo === null) return invalidAddress('replyTo');
  if (to === null) return invalidAddress('to');
  const headers: Record<string, string> = { [DISPATCH_ID_HEADER]: oneLine(input.dispatchId) };
  if (input.purpose === 'marketing') {
    const unsubscribe = unsubscribeHeaders(input);
    if (!unsubscribe.ok) return unsubscribe;
    Object.assign(headers, unsubscribe.headers);
  }
  const mail: ComposedMail = {
    from,
    ...(replyTo ? { replyTo } : {}),
    to,
    subject: oneLine(input.message.subject),
    html: input.message.html,
    ...(input.message.text === undefined ? {} : { text: input.message.text }),
    messageId: messageIdFor(input.dispatchId, input.sendingDomain),
    headers,
  };
  return { ok: true, mail };
}

/**
 * `<dispatch id@sending domain>`: the same for every attempt of a dispatch, so a receiver that sees a retry of a mail
 * it already accepted can drop it. An id that is not a valid dot-atom is replaced by its hash.
 */
export function messageIdFor(dispatchId: string, sendingDomain: string): string {
  const local = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(dispatchId) && dispatchId.length <= 128
    ? dispatchId
    : `h.${createHash('sha256').update(dispatchId).digest('hex').slice(0, 40)}`;
  return `<${local}@${sendingDomain}>`;
}

function unsubscribeHeaders(input: MailInput): { ok: true; headers: Record<string, string> } | { ok: false; reason: ComposeFailureReason; message: string } {
  if (!input.unsubscribe) return { ok: false, reason: 'missing-unsubscribe', message: 'marketing mail needs a one-click unsubscribe URL' };
  let url: URL;
  try {
    url = new URL(input.unsubscribe.url);
  } catch {
    return { ok: false, reason: 'invalid-unsubscribe', message: `unsubscribe URL "${input.unsubscribe.url}" is not a URL` };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && input.allowInsecureUnsubscribe)) {
    return { ok: false, reason: 'invalid-unsubscribe', message: 'RFC 8058: the one-click unsubscribe URL must be https' };
  }
  const entries = [`<${url.href}>`];
  if (input.unsubscribe.mailto !== undefined) {
    const mailto = input.unsubscribe.mailto.replace(/^mailto:/i, '');
    if (!ADDRESS.test(mailto)) return { ok: false, reason: 'invalid-unsubscribe', message: `unsubscribe mailto "${mailto}" is not an address` };
    entries.push(`<mailto:${mailto}?subject=unsubscribe>`);
  }
  // url.href is percent-encoded by URL, so it holds no space, CR, LF or ">" to break out of the angle brackets.
  return { ok: true, headers: { 'List-Unsubscribe': entries.join(', '), 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } };
}

function invalidAddress(field: string): ComposeResult {
  return { ok: false, reason: 'invalid-address', message: `${field}: not a single plain e-mail address` };
}

function parseAddress(value: string): MailAddress | null {
  const named = /^\s*(?:"([^"]*)"|([^<"]*?))\s*<([^<>]*)>\s*$/.exec(value);
  if (named) return checkAddress({ name: named[1] ?? named[2] ?? '', address: named[3] ?? '' });
  return checkAddress({ name: '', address: value.trim() });
}

function checkAddress(address: MailAddress): MailAddress | null {
  if (address.address.length > 254 || !ADDRESS.test(address.address)) return null;
  return { name: oneLine(address.name), address: address.address };
}
