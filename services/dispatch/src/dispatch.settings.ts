import { randomBytes } from 'node:crypto';
import { RetryPolicy, SigningKeys, signingKeyProblems } from '@kairos/dispatch-core';
import { deadLetterTopic } from '@kairos/contracts';
import { DispatchConfig } from './dispatch.config';

export const DISPATCH_SETTINGS = Symbol('kairos.dispatch.settings');

/** What the use cases need from the configuration, already interpreted and checked. */
export interface DispatchSettings {
  keys: SigningKeys;
  /** Base of the engagement links, no trailing slash. */
  publicUrl: string;
  allowHttpLinks: boolean;
  smtp: { url: string; poolConnections: number; ratePerSecond: number; timeoutMs: number; dkim?: { domainName: string; keySelector: string; privateKey: string } };
  sendingDomain: string;
  defaultFrom: string;
  unsubscribeMailto?: string;
  defaultLocale: string;
  defaultTimeZone: string;
  retry: RetryPolicy;
  concurrency: number;
  leaseMs: number;
  softBounceLimit: number;
  /** A soft bounce more than this after the address's previous one counts as its first. */
  softBounceWindowMs: number;
  bounceToken?: string;
  /** secret: WEBHOOK_SECRET; namedSecrets: the environment's variables ending in _WEBHOOK_SECRET (>= 32 bytes), which a webhook step may name. */
  webhook: { secret?: string; namedSecrets: ReadonlyMap<string, string>; timeoutMs: number };
  /** Where deliveries that failed for good go, with their history: the consumer group's dead-letter topic. */
  deadLetterTopic: string;
  groupId: string;
}

/** Interprets the configuration; throws with the variable's name when a value cannot work. */
export function dispatchSettings(config: DispatchConfig, warn: (message: string) => void, env: NodeJS.ProcessEnv = {}): DispatchSettings {
  const keys = signingKeys(config.DISPATCH_SIGNING_KEYS, warn);
  const publicUrl = (config.DISPATCH_PUBLIC_URL ?? `http://127.0.0.1:${config.DISPATCH_PORT}`).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new Error(`DISPATCH_PUBLIC_URL is not a URL: ${publicUrl}`);
  }
  const local = config.DISPATCH_PUBLIC_URL === undefined;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (local || config.DISPATCH_ALLOW_HTTP_LINKS))) {
    throw new Error('DISPATCH_PUBLIC_URL must be https (RFC 8058 one-click unsubscribe); set DISPATCH_ALLOW_HTTP_LINKS=true only for a local stack');
  }
  // A public endpoint that marks addresses hard-bounced (all mail to them stops) must not be open to anyone.
  if (url.protocol === 'https:' && config.DISPATCH_BOUNCE_TOKEN === undefined) warn('DISPATCH_BOUNCE_TOKEN is unset: anyone who reaches POST /bounces can mark an address bounced; set it for the mail system that reports bounces');
  if (config.DISPATCH_RETRY_MAX_MS < config.DISPATCH_RETRY_INITIAL_MS) throw new Error('DISPATCH_RETRY_MAX_MS must not be below DISPATCH_RETRY_INITIAL_MS');
  if ((config.DKIM_SELECTOR === undefined) !== (config.DKIM_PRIVATE_KEY === undefined)) throw new Error('DKIM_SELECTOR and DKIM_PRIVATE_KEY go together');
  if (config.WEBHOOK_SECRET !== undefined && Buffer.byteLength(config.WEBHOOK_SECRET) < 32) throw new Error('WEBHOOK_SECRET must be at least 32 bytes');
  for (const [name, value] of [['DISPATCH_DEFAULT_LOCALE', config.DISPATCH_DEFAULT_LOCALE], ['DISPATCH_DEFAULT_TIME_ZONE', config.DISPATCH_DEFAULT_TIME_ZONE]] as const) {
    try {
      if (name === 'DISPATCH_DEFAULT_LOCALE') new Intl.NumberFormat(value);
      else new Intl.DateTimeFormat('en', { timeZone: value });
    } catch {
      throw new Error(`${name} is not valid: ${value}`);
    }
  }
  const groupId = config.KAFKA_GROUP_ID ?? 'kairos-dispatch';
  return {
    keys,
    publicUrl,
    allowHttpLinks: url.protocol === 'http:',
    smtp: {
      url: config.SMTP_URL,
      poolConnections: config.SMTP_POOL_CONNECTIONS,
      ratePerSecond: config.SMTP_RATE_PER_SECOND,
      timeoutMs: config.SMTP_TIMEOUT_MS,
      ...(config.DKIM_SELECTOR && config.DKIM_PRIVATE_KEY
        ? { dkim: { domainName: config.DISPATCH_SENDING_DOMAIN, keySelector: config.DKIM_SELECTOR, privateKey: config.DKIM_PRIVATE_KEY } }
        : {}),
    },
    sendingDomain: config.DISPATCH_SENDING_DOMAIN,
    defaultFrom: config.DISPATCH_DEFAULT_FROM,
    ...(config.DISPATCH_UNSUBSCRIBE_MAILTO ? { unsubscribeMailto: config.DISPATCH_UNSUBSCRIBE_MAILTO } : {}),
    defaultLocale: config.DISPATCH_DEFAULT_LOCALE,
    defaultTimeZone: config.DISPATCH_DEFAULT_TIME_ZONE,
    retry: { maxAttempts: config.DISPATCH_RETRY_MAX_ATTEMPTS, initialDelayMs: config.DISPATCH_RETRY_INITIAL_MS, maxDelayMs: config.DISPATCH_RETRY_MAX_MS },
    concurrency: config.DISPATCH_CONCURRENCY,
    leaseMs: config.DISPATCH_LEASE_SECONDS * 1000,
    softBounceLimit: config.DISPATCH_SOFT_BOUNCE_LIMIT,
    softBounceWindowMs: config.DISPATCH_SOFT_BOUNCE_WINDOW_DAYS * 86_400_000,
    ...(config.DISPATCH_BOUNCE_TOKEN ? { bounceToken: config.DISPATCH_BOUNCE_TOKEN } : {}),
    webhook: { ...(config.WEBHOOK_SECRET ? { secret: config.WEBHOOK_SECRET } : {}), namedSecrets: namedWebhookSecrets(env, warn), timeoutMs: config.WEBHOOK_TIMEOUT_MS },
    deadLetterTopic: deadLetterTopic(groupId).name,
    groupId,
  };
}

function signingKeys(json: string | undefined, warn: (message: string) => void): SigningKeys {
  if (json === undefined) {
    warn('DISPATCH_SIGNING_KEYS is not set: links are signed with a random key that dies with this process (local use only)');
    return { current: { id: 'local', secret: randomBytes(32) }, previous: [] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`DISPATCH_SIGNING_KEYS is not JSON: ${(error as Error).message}`);
  }
  const isKey = (value: unknown): value is { id: string; secret: string } =>
    typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' && typeof (value as { secret?: unknown }).secret === 'string';
  const { current, previous = [] } = (parsed ?? {}) as { current?: unknown; previous?: unknown };
  if (!isKey(current) || !Array.isArray(previous) || !previous.every(isKey)) {
    throw new Error('DISPATCH_SIGNING_KEYS must be {"current":{"id","secret"},"previous":[{"id","secret"}, ...]}');
  }
  const keys: SigningKeys = { current, previous };
  const problems = signingKeyProblems(keys);
  if (problems.length > 0) throw new Error(`DISPATCH_SIGNING_KEYS: ${problems.join('; ')}`);
  return keys;
}

/**
 * The secrets webhook steps may name: the environment's variables whose names end in _WEBHOOK_SECRET, so a definition
 * can make dispatch sign with no other key (a JWT_SECRET, DATABASE_URL). One shorter than 32 bytes is left out, with
 * a warning naming it.
 */
export function namedWebhookSecrets(env: NodeJS.ProcessEnv, warn: (message: string) => void): ReadonlyMap<string, string> {
  const secrets = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Z][A-Z0-9_]*_WEBHOOK_SECRET$/.test(name) || value === undefined) continue;
    if (Buffer.byteLength(value) < 32) warn(`${name} is shorter than 32 bytes: webhook steps naming it are signed with WEBHOOK_SECRET`);
    else secrets.set(name, value);
  }
  return secrets;
}
