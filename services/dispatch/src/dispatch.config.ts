import { boolean, ConfigOf, integer, loadConfig, port, publicHttpVariables, serviceVariables, text } from '@kairos/config';

export const dispatchVariables = {
  ...serviceVariables(9105),
  ...publicHttpVariables,
  DISPATCH_PORT: port(8083, 'Public HTTP port: unsubscribe, confirm, open, click and bounce endpoints'),
  DISPATCH_PUBLIC_URL: text({ description: 'Public base URL of the engagement endpoints in mail links (https in production); unset: http://127.0.0.1:<DISPATCH_PORT>, local only', optional: true }),
  DISPATCH_ALLOW_HTTP_LINKS: boolean({ description: 'Allow an http DISPATCH_PUBLIC_URL (RFC 8058 requires https; for local stacks)', default: false }),
  DISPATCH_SIGNING_KEYS: text({
    description: 'JSON {"current":{"id","secret"},"previous":[{"id","secret"}]}: HMAC keys of link tokens (secrets >= 32 bytes); unset: a random key per process (tokens die with it; local only)',
    optional: true,
  }),
  SMTP_URL: text({ description: 'SMTP relay, smtp://[user:pass@]host:port (smtps:// for implicit TLS)', default: 'smtp://127.0.0.1:2525' }),
  SMTP_POOL_CONNECTIONS: integer({ description: 'Pooled SMTP connections', default: 5, minimum: 1, maximum: 100 }),
  SMTP_RATE_PER_SECOND: integer({ description: 'Mails handed to SMTP per second at most (0: unlimited)', default: 0, minimum: 0 }),
  SMTP_TIMEOUT_MS: integer({ description: 'Connection, greeting and socket timeout of an SMTP attempt', default: 15_000, minimum: 100 }),
  DISPATCH_SENDING_DOMAIN: text({ description: 'Domain of Message-IDs (and of DKIM signatures)', default: 'kairos.local' }),
  DISPATCH_DEFAULT_FROM: text({ description: 'From of templates that name none', default: 'Kairos <noreply@kairos.local>' }),
  DISPATCH_UNSUBSCRIBE_MAILTO: text({ description: 'Optional mailto: address added to List-Unsubscribe', optional: true }),
  DKIM_SELECTOR: text({ description: 'DKIM selector; with DKIM_PRIVATE_KEY, mail is signed for DISPATCH_SENDING_DOMAIN', optional: true }),
  DKIM_PRIVATE_KEY: text({ description: 'DKIM private key (PEM)', optional: true }),
  DISPATCH_DEFAULT_LOCALE: text({ description: 'Locale of profiles without one', default: 'de-CH' }),
  DISPATCH_DEFAULT_TIME_ZONE: text({ description: 'Time zone of profiles without one', default: 'Europe/Zurich' }),
  DISPATCH_RETRY_MAX_ATTEMPTS: integer({ description: 'SMTP (or webhook) attempts in all before a delivery fails and is dead-lettered', default: 6, minimum: 1, maximum: 100 }),
  DISPATCH_RETRY_INITIAL_MS: integer({ description: 'Back-off after the first temporary failure (doubles each time, with jitter)', default: 60_000, minimum: 10 }),
  DISPATCH_RETRY_MAX_MS: integer({ description: 'Longest back-off between two attempts', default: 3_600_000, minimum: 10 }),
  DISPATCH_CONCURRENCY: integer({ description: 'Deliveries in flight per instance (claimed, rendered, handed to SMTP)', default: 200, minimum: 1, maximum: 10_000 }),
  DISPATCH_LEASE_SECONDS: integer({ description: 'How long a claimed delivery stays with its instance; a row still claimed after that was abandoned (crash) and is recovered', default: 120, minimum: 5 }),
  DISPATCH_SOFT_BOUNCE_LIMIT: integer({ description: 'Soft bounces of an address after which it is suppressed', default: 3, minimum: 1 }),
  DISPATCH_SOFT_BOUNCE_WINDOW_DAYS: integer({
    description: 'An address whose last soft bounce is older than this starts counting again: a mailbox full once a year is never suppressed',
    default: 30,
    minimum: 1,
  }),
  DISPATCH_BOUNCE_TOKEN: text({ description: 'Bearer token the bounce/complaint endpoint requires (unset: no token, local only)', optional: true }),
  WEBHOOK_SECRET: text({ description: 'HMAC secret of webhook signatures (>= 32 bytes); unset: webhook requests fail as unsigned', optional: true }),
  WEBHOOK_TIMEOUT_MS: integer({ description: 'Timeout of one webhook attempt', default: 10_000, minimum: 100 }),
};

export type DispatchConfig = ConfigOf<typeof dispatchVariables>;

export function loadDispatchConfig(env: NodeJS.ProcessEnv = process.env): DispatchConfig {
  return loadConfig(dispatchVariables, env);
}
