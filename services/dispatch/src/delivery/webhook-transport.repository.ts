import { Inject, Injectable } from '@nestjs/common';
import { signWebhook, WEBHOOK_DISPATCH_HEADER, WEBHOOK_SIGNATURE_HEADER } from '@kairos/dispatch-core';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';

export type WebhookAnswer = { ok: true; status: number; body: string } | { ok: false; error: string };

/**
 * The HTTP side of the webhook step: one signed POST with a timeout; answers, never throws. Signed with the secret the
 * step names (an environment variable of dispatch ending in _SECRET), else with WEBHOOK_SECRET; a request whose secret
 * is not configured fails for good (status 0, with the reason), never goes out unsigned.
 */
@Injectable()
export class WebhookTransportRepository {
  constructor(@Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings) {}

  async post(dispatchId: string, url: string, body: string, secretName?: string): Promise<WebhookAnswer> {
    const { timeoutMs } = this.settings.webhook;
    const secret = secretName === undefined ? this.settings.webhook.secret : this.settings.webhook.namedSecrets.get(secretName);
    if (!secret) return { ok: true, status: 0, body: `${secretName ?? 'WEBHOOK_SECRET'} is not configured in dispatch (an environment variable of at least 32 bytes): the request cannot be signed` };
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
}
