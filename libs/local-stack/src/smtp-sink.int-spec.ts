import { createTransport } from 'nodemailer';

describe('the SMTP sink', () => {
  it('receives a message sent through nodemailer over real SMTP and shows it in its HTTP inbox', async () => {
    const { SMTP_URL: smtpUrl, SMTP_INBOX_URL: inboxUrl } = process.env;
    if (!smtpUrl || !inboxUrl) throw new Error('run through `npm test`: the harness starts the SMTP sink and sets SMTP_URL and SMTP_INBOX_URL');
    const transport = createTransport(smtpUrl);
    const to = `welcome-${Date.now()}@example.com`;
    await transport.sendMail({ from: 'shop@example.com', to, subject: 'Welcome to the shop', text: 'Hello Anna', html: '<p>Hello <b>Anna</b></p>' });
    transport.close();

    // sendMail resolves once the sink accepted the DATA, and the sink indexes the message before accepting it.
    const inbox = (await (await fetch(`${inboxUrl}?to=${encodeURIComponent(to)}`)).json()) as { messages: Array<{ id: string; subject: string }> };
    expect(inbox.messages).toHaveLength(1);
    const listed = inbox.messages[0];
    expect(listed.subject).toBe('Welcome to the shop');
    const message = (await (await fetch(`${inboxUrl}/${listed.id}`)).json()) as { text: string; html: string; envelope: { from: string; to: string[] } };
    expect(message.envelope).toEqual({ from: 'shop@example.com', to: [to] });
    expect(message.text.trim()).toBe('Hello Anna');
    expect(message.html).toContain('<b>Anna</b>');
    const raw = await (await fetch(`${inboxUrl}/${listed.id}/raw`)).text();
    expect(raw).toContain('Subject: Welcome to the shop');

    const origin = new URL(inboxUrl).origin;
    const inboxPage = await (await fetch(`${origin}/`)).text();
    expect(inboxPage).toContain(`<a href="/view/${listed.id}">Welcome to the shop</a>`);
    const view = await fetch(`${origin}/view/${listed.id}`);
    expect(view.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const viewPage = await view.text();
    expect(viewPage).toContain('<td>subject</td><td>Welcome to the shop</td>');
    // The mail's HTML is shown in a sandboxed frame, escaped into its srcdoc: it cannot run script in the page.
    expect(viewPage).toContain('<iframe sandbox srcdoc="&#60;p&#62;Hello &#60;b&#62;Anna&#60;/b&#62;&#60;/p&#62;');
  });
});
