import { Inject, Injectable, Logger } from '@nestjs/common';
import { signWebhook, WEBHOOK_DISPATCH_HEADER, WEBHOOK_SIGNATURE_HEADER } from '@kairos/dispatch-core';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';

export type WebhookAnswer = { ok: true; status: number; body: string } | { ok: false; error: string };

/**
 * The HTTP side of the webhook step: one signed POST with a timeout; answers, never throws. Signed with the secret the
 * step names (an environment variable of dispatch ending in _WEBHOOK_SECRET), else — a name not set there, as every
 * step was before steps' names were read — with WEBHOOK_SECRET, said once per name in the log. Without either the
 * request fails (status 0, with the reason): never sent unsigned.
 */
@Injectable()
export class WebhookTransportRepository {
  private readonly logger = new Logger('dispatch-webhooks');
  private readonly fellBack = new Set<string>();

  constructor(@Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings) {}

  async post(dispatchId: string, url: string, body: string, secretName?: string): Promise<WebhookAnswer> {
    const { timeoutMs } = this.settings.webhook;
    const secret = this.secretFor(secretName);
    if (!secret) return { ok: true, status: 0, body: 'WEBHOOK_SECRET is not configured: webhook requests cannot be signed' };
    try {
      const response = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'kairos-dispatch',
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(Date.now() / 1000)),
          [WEBHOOK_DISPATCH_HEADER]: dispatchId,
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = (await response.text().catch(() => '')).slice(0, 300);
      return { ok: true, status: response.status, body: text };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      return { ok: false, error: `${(error as Error).name === 'TimeoutError' ? 'timeout' : (cause?.code ?? 'network error')}: ${(error as Error).message}` };
    }
  }

  private secretFor(name: string | undefined): string | undefined {
    const named = name === undefined ? undefined : this.settings.webhook.namedSecrets.get(name);
    if (named) return named;
    if (name !== undefined && !this.fellBack.has(name)) {
      this.fellBack.add(name);
      this.logger.warn(`webhook steps name ${name}: not a variable of dispatch ending in _WEBHOOK_SECRET with at least 32 bytes, so they are signed with WEBHOOK_SECRET`);
    }
    return this.settings.webhook.secret;
  }
}
