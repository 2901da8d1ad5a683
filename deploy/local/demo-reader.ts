/**
 * The demo's readers: they read the mail the local SMTP sink received, the way people do — open some (load the
 * tracking pixel), click a link in fewer, confirm most double opt-in requests and unsubscribe now and then (the
 * one-click POST of List-Unsubscribe). What they do flows back through dispatch's endpoints into the pipeline as
 * engagement and consent events, so the summary's opened, clicked and converted columns move.
 */
export interface DemoReaderOptions {
  inboxUrl: string;
  /** Only links to this origin (dispatch's public endpoints) are followed. */
  dispatchOrigin: string;
  log: (line: string) => void;
  random?: () => number;
}

interface InboxMessage {
  id: string;
  html?: string;
  headers?: Array<{ key: string; value: string }>;
}

export function startDemoReader(options: DemoReaderOptions): { stop(): void } {
  const random = options.random ?? Math.random;
  const seen = new Set<string>();
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const listing = (await (await fetch(options.inboxUrl)).json()) as { messages: Array<{ id: string }> };
      for (const { id } of listing.messages) {
        if (seen.has(id)) continue;
        seen.add(id);
        const message = (await (await fetch(`${options.inboxUrl}/${encodeURIComponent(id)}`)).json()) as InboxMessage;
        await read(message, options.dispatchOrigin, random);
      }
    } catch {
      // the sink or dispatch is restarting; the next round tries again
    } finally {
      busy = false;
    }
  }, 2_000);
  return { stop: () => clearInterval(timer) };
}

/** What one reader does with one mail. */
async function read(message: InboxMessage, origin: string, random: () => number): Promise<void> {
  const html = message.html ?? '';
  const links = [...html.matchAll(/href="([^"]+)"/g)].map((match) => decodeEntities(match[1])).filter((url) => url.startsWith(origin));
  const images = [...html.matchAll(/<img[^>]+src="([^"]+)"/g)].map((match) => decodeEntities(match[1])).filter((url) => url.startsWith(origin));
  const confirm = links.find((url) => /confirm/i.test(url));
  if (confirm) {
    if (random() < 0.9) await fetch(confirm).catch(() => undefined);
    return;
  }
  if (random() >= 0.5) return; // never opened
  for (const pixel of images) await fetch(pixel).catch(() => undefined);
  const clickable = links.filter((url) => !/unsubscribe/i.test(url));
  if (clickable.length > 0 && random() < 0.4) await fetch(clickable[Math.floor(random() * clickable.length)], { redirect: 'manual' }).catch(() => undefined);
  const oneClick = message.headers?.find((header) => header.key.toLowerCase() === 'list-unsubscribe')?.value.match(/<(https?:[^>]+)>/)?.[1];
  if (oneClick && oneClick.startsWith(origin) && random() < 0.03) {
    await fetch(oneClick, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' }).catch(() => undefined);
  }
}

/** An attribute value as the browser reads it (Handlebars escapes `=` and `&` in the links it prints). */
export function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal: string) => String.fromCodePoint(Number(decimal)))
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}
