import { DeliveryEvent } from './delivery-state';

/** The parts of a nodemailer error (or any transport error) that say what kind of failure it was. */
export interface TransportErrorLike {
  message?: string;
  code?: string;
  /** The system call of a socket error (Node's `connect`, `getaddrinfo`), which nodemailer reports as ESOCKET. */
  syscall?: string;
  responseCode?: number;
  response?: string;
}

/**
 * An SMTP failure as the state machine sees it: a 5xx reply is permanent (retrying gets the same answer); a 4xx
 * reply, a refused or dropped connection, a timeout or a greeting that never came is temporary. A failure without a
 * reply code that is not about the connection (an invalid message nodemailer refused to build) is permanent.
 */
const UNREACHABLE = new Set(['ECONNECTION', 'ECONNREFUSED', 'ETIMEDOUT', 'EDNS']);

export function classifySmtpFailure(error: TransportErrorLike): Extract<DeliveryEvent, { type: 'smtp-temporary' | 'smtp-permanent' | 'smtp-unreachable' }> {
  const detail = oneLineDetail(error.response ?? error.message ?? 'unknown SMTP failure');
  const code = error.responseCode;
  if (code !== undefined && code >= 500 && code < 600) return { type: 'smtp-permanent', code, detail };
  if (code !== undefined && code >= 400 && code < 500) return { type: 'smtp-temporary', code, detail };
  if (error.code === 'EMESSAGE' || error.code === 'EENVELOPE') return { type: 'smtp-permanent', code: code ?? 554, detail };
  // No server answered: the relay is down or unreachable (nodemailer reports a refused or timed-out connect as
  // ECONNECTION or ETIMEDOUT, a failed lookup as EDNS). Waited out, never counted against the mail.
  if (error.code !== undefined && UNREACHABLE.has(error.code)) return { type: 'smtp-unreachable', detail: `${error.code}: ${detail}` };
  // A refused connect or a failed lookup on nodemailer's own connect comes as ESOCKET with Node's syscall.
  if (error.code === 'ESOCKET' && (error.syscall === 'connect' || error.syscall === 'getaddrinfo')) return { type: 'smtp-unreachable', detail: `${error.code}: ${detail}` };
  // ESOCKET, EPROTOCOL and anything else about a connection that was made: a temporary failure of this attempt.
  return { type: 'smtp-temporary', detail: error.code ? `${error.code}: ${detail}` : detail };
}

/**
 * A webhook answer on the same transitions: 2xx accepted; 5xx, 408, 429 and no answer (timeout, refused) are
 * temporary; any other 4xx (and a 3xx, which is not followed) is permanent — the receiver refused this request.
 */
export function classifyWebhookStatus(status: number, body: string): Extract<DeliveryEvent, { type: 'smtp-accepted' | 'smtp-temporary' | 'smtp-permanent' }> {
  const detail = oneLineDetail(`HTTP ${status}${body ? `: ${body}` : ''}`);
  if (status >= 200 && status < 300) return { type: 'smtp-accepted', messageId: '', response: detail };
  if (status >= 500 || status === 408 || status === 429) return { type: 'smtp-temporary', code: status, detail };
  return { type: 'smtp-permanent', code: status, detail };
}

function oneLineDetail(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 500);
}
