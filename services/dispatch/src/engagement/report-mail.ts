import PostalMime from 'postal-mime';
import { readDeliveryStatus, readFeedbackReport, ReportedDelivery } from '@kairos/dispatch-core';

/**
 * A bounce or complaint as the mail system sent it (a multipart/report mail, posted by the relay's or mailbox's hook):
 * the reports it holds, or undefined when it is no delivery-status or feedback report. postal-mime splits the MIME
 * parts (it is dispatch's mail parser already); @kairos/dispatch-core reads the fields.
 */
export async function reportsInMail(raw: Buffer): Promise<ReportedDelivery[] | undefined> {
  const mail = await PostalMime.parse(raw);
  const part = (...types: string[]) => mail.attachments.find((attachment) => types.includes(attachment.mimeType.toLowerCase()));
  const text = (attachment: { content: ArrayBuffer | Uint8Array | string } | undefined) =>
    attachment === undefined ? undefined : typeof attachment.content === 'string' ? attachment.content : Buffer.from(attachment.content as ArrayBuffer).toString('utf8');
  const returned = text(part('text/rfc822-headers', 'message/rfc822', 'message/rfc822-headers'));
  const status = text(part('message/delivery-status', 'message/global-delivery-status'));
  if (status !== undefined) return readDeliveryStatus(status, returned);
  const feedback = text(part('message/feedback-report'));
  if (feedback !== undefined) return readFeedbackReport(feedback, returned);
  return undefined;
}
