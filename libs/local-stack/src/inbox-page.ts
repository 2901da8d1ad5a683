import { StoredMessage } from './smtp-sink';

/** The local SMTP sink's pages: a list of received mail, and one mail rendered with its headers. */

const escape = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const page = (title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f4}
a{color:#0b5cad}iframe{width:100%;height:70vh;border:1px solid #ccc}pre{white-space:pre-wrap;background:#f8f8f8;padding:.75rem}
.headers td:first-child{white-space:nowrap;color:#555}</style></head><body>${body}</body></html>`;

export function inboxPage(messages: readonly StoredMessage[]): string {
  const rows = [...messages]
    .reverse()
    .map((message) => `<tr><td>${escape(message.receivedAt)}</td><td>${escape(message.envelope.to.join(', '))}</td><td><a href="/view/${encodeURIComponent(message.id)}">${escape(message.subject || '(no subject)')}</a></td><td>${message.size}</td></tr>`)
    .join('');
  return page(
    'Kairos inbox',
    `<h1>Kairos inbox</h1><p>${messages.length} messages received by the local SMTP sink (newest first; refresh to update). JSON: <a href="/messages">/messages</a></p>
<table><tr><th>received</th><th>to</th><th>subject</th><th>bytes</th></tr>${rows}</table>`,
  );
}

export interface ViewedMessage {
  id: string;
  subject: string;
  headers: Array<{ key: string; value: string }>;
  html?: string;
  text?: string;
}

/** One mail: every header as received, the HTML part in a sandboxed frame (no scripts), and the text part. */
export function messagePage(message: ViewedMessage): string {
  const headers = message.headers.map((header) => `<tr><td>${escape(header.key)}</td><td>${escape(header.value)}</td></tr>`).join('');
  const html = message.html === undefined ? '<p>(no HTML part)</p>' : `<iframe sandbox srcdoc="${escape(message.html)}" title="HTML part"></iframe>`;
  return page(
    message.subject || 'message',
    `<p><a href="/">← inbox</a> · <a href="/messages/${encodeURIComponent(message.id)}/raw">raw .eml</a></p><h1>${escape(message.subject || '(no subject)')}</h1>
<table class="headers">${headers}</table><h2>HTML</h2>${html}<h2>Text</h2><pre>${escape(message.text ?? '(no text part)')}</pre>`,
  );
}
