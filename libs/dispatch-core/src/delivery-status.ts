/**
 * Bounce and complaint reports as mail systems send them, read into what dispatch records: RFC 3464 delivery-status
 * notifications (multipart/report; report-type=delivery-status) and RFC 5965 abuse reports (report-type=feedback-report).
 * Pure: the service splits the MIME parts, this reads the report's fields and the returned message's headers.
 */
export interface ReportedDelivery {
  type: 'hard-bounce' | 'soft-bounce' | 'complaint';
  recipient?: string;
  /** From the returned message's Message-ID, which dispatch derives from the dispatch id (messageIdFor). */
  dispatchId?: string;
  status?: string;
  diagnostic?: string;
}

/**
 * The recipients a delivery-status report says failed: `Action: failed` with a 5.x.x status is a hard bounce, with a
 * 4.x.x status (the reporting server gave up on a temporary failure) a soft bounce; `delayed`, `delivered`, `relayed`
 * and `expanded` are no bounce. `fields` is the message/delivery-status part, `returned` the returned message or its
 * headers (text/rfc822-headers, message/rfc822), if the report has one.
 */
export function readDeliveryStatus(fields: string, returned?: string): ReportedDelivery[] {
  const dispatchId = returned === undefined ? undefined : dispatchIdOf(fieldBlocks(returned)[0]?.get('message-id'));
  // The per-message block (Reporting-MTA, …) has no Action: only recipients' blocks count.
  return fieldBlocks(fields).flatMap((block) => {
    const action = block.get('action')?.toLowerCase();
    const status = block.get('status')?.match(/^[245]\.\d{1,3}\.\d{1,3}/)?.[0];
    if (action !== 'failed' || status === undefined) return [];
    const recipient = addressOf(block.get('final-recipient') ?? block.get('original-recipient'));
    const diagnostic = block.get('diagnostic-code')?.replace(/^smtp\s*;\s*/i, '');
    const type = status.startsWith('5') ? ('hard-bounce' as const) : ('soft-bounce' as const);
    return [{ type, status, ...(recipient ? { recipient } : {}), ...(dispatchId ? { dispatchId } : {}), ...(diagnostic ? { diagnostic } : {}) }];
  });
}

/** An abuse report (`Feedback-Type: abuse`) as a complaint about the returned message; other feedback types are none. */
export function readFeedbackReport(fields: string, returned?: string): ReportedDelivery[] {
  const block = fieldBlocks(fields)[0] ?? new Map<string, string>();
  if (block.get('feedback-type')?.toLowerCase() !== 'abuse') return [];
  const headers = (returned === undefined ? undefined : fieldBlocks(returned)[0]) ?? new Map<string, string>();
  const recipient = addressOf(block.get('original-rcpt-to')) ?? addressOf(headers.get('to'));
  const dispatchId = dispatchIdOf(headers.get('message-id'));
  return [{ type: 'complaint', ...(recipient ? { recipient } : {}), ...(dispatchId ? { dispatchId } : {}) }];
}

/** The dispatch id in a Message-ID dispatch made, unless it had to hash it (`h.<hex>`, see messageIdFor). */
export function dispatchIdOf(messageId: string | undefined): string | undefined {
  const local = messageId?.trim().match(/^<([^@>]+)@[^>]+>$/)?.[1];
  return local === undefined || local.startsWith('h.') ? undefined : local;
}

/** `rfc822; anna@example.ch` (or a bare address, or `<anna@example.ch>`) -> the address. */
function addressOf(value: string | undefined): string | undefined {
  const address = value
    ?.replace(/^[^;]*;/, '')
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .trim();
  return address && address.includes('@') ? address : undefined;
}

/** Header-style fields in blocks separated by blank lines; names lower-cased, folded lines unfolded, the first of a name kept. */
function fieldBlocks(text: string): Array<Map<string, string>> {
  return text
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((block) => headerMap(block))
    .filter((block) => block.size > 0);
}

function headerMap(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}
