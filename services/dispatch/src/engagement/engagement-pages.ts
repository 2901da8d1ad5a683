/** The small pages the engagement endpoints answer with: no personal data, nothing from the request echoed. */
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${title}</title>` +
  '<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font:inherit;padding:.5rem 1rem}</style></head>' +
  `<body><h1>${title}</h1>${body}</body></html>`;

/** `action` is our own path with a token of [A-Za-z0-9_.-] (checked before), so it needs no escaping. */
export const unsubscribedPage = (resubscribeAction: string) =>
  page(
    'You are unsubscribed',
    `<p>You will not receive marketing e-mail from us any more. Transactional mail (orders, receipts) still reaches you.</p>
<form method="post" action="${resubscribeAction}"><p>Unsubscribed by mistake?</p><button type="submit">Subscribe again</button></form>`,
  );

export const preferencesPage = (action: string, subscribed: boolean) =>
  page(
    'Your e-mail preferences',
    `<p>Marketing e-mail: <strong>${subscribed ? 'subscribed' : 'unsubscribed'}</strong>.</p>
<form method="post" action="${action}"><input type="hidden" name="choice" value="${subscribed ? 'unsubscribe' : 'subscribe'}"><button type="submit">${subscribed ? 'Unsubscribe' : 'Subscribe again'}</button></form>`,
  );

export const resubscribedPage = () => page('Welcome back', '<p>You are subscribed again.</p>');

export const confirmedPage = () => page('Subscription confirmed', '<p>Thank you: your subscription is confirmed.</p>');

export const refusedPage = (reason: string) =>
  page('This link is not valid', `<p>The link is incomplete or was changed (${reason}). Please use the link from the e-mail as it is.</p>`);

/** A transparent 1×1 GIF. */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
