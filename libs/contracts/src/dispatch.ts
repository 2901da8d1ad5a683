/**
 * Dispatch's wire formats. Triggers produce requests (kairos.dispatch.requests.v1, key profileId); dispatch produces
 * outcomes (kairos.dispatch.outcomes.v1, key profileId). Schemas: dispatch-request.v1 and delivery-outcome.v1.
 */

/** Where a request came from; analysts group outcomes by these. Absent for requests produced outside journeys. */
export interface DispatchOrigin {
  journeyId: string;
  journeyVersion: number;
  instanceId: string;
  stepId: string;
  variant?: string;
}

/** The consent a send relied on, as triggers saw it (dispatch checks again at send time). */
export interface ConsentEvidence {
  channel: 'email';
  purpose: 'marketing' | 'transactional';
  status: 'granted' | 'confirmed' | 'not-required';
  /** The proof of the grant or confirmation: time (ISO 8601), source, messageId and context as segmentation keeps it. */
  proof?: Record<string, unknown>;
}

interface DispatchRequestBase {
  /** Deterministic (journey, version, profile, instance, step): dispatch sends each at most once. */
  dispatchId: string;
  profileId: string;
  /** ISO 8601: when the step ran (event or timer time). */
  requestedAt: string;
  origin?: DispatchOrigin;
  /** Why it was sent: the trigger, the rule, the consent relied on. */
  reason: { trigger: string; rule?: string; consent?: ConsentEvidence };
}

/** An e-mail to render and send. */
export interface EmailDispatchRequest extends DispatchRequestBase {
  channel: 'email';
  purpose: 'marketing' | 'transactional';
  templateId: string;
  /**
   * Reserved, not read yet: dispatch renders the version in force at its first attempt (normally milliseconds after
   * the step) and keeps that rendering, headers and all, for every retry.
   */
  templateVersion?: number;
  /** Recipient address; absent means the profile's `email` trait from context.profile. */
  to?: string;
  /** The journey's From, Reply-To and sending domain, each over the template's. */
  sender?: { from?: string; replyTo?: string; sendingDomain?: string };
  /** The rendering context: profile traits, the triggering event (e.g. the cart's products), journey data. */
  context: {
    profile: Record<string, unknown>;
    event?: { name?: string; messageId?: string; properties?: Record<string, unknown> };
    journey?: { id: string; name?: string; step: string; variant?: string };
    locale?: string;
    timeZone?: string;
  };
}

/** A signed POST (the webhook step). */
export interface WebhookDispatchRequest extends DispatchRequestBase {
  channel: 'webhook';
  url: string;
  /**
   * The environment variable of dispatch that holds the HMAC secret to sign with (the webhook step's `secret`; read
   * only if its name ends in _WEBHOOK_SECRET); absent or not set there: WEBHOOK_SECRET, as before steps named one.
   */
  secretName?: string;
  /** The JSON body: the profile and the triggering event. */
  body: Record<string, unknown>;
}

export type DispatchRequestRecord = EmailDispatchRequest | WebhookDispatchRequest;

export type DeliveryOutcomeKind =
  | 'queued'
  | 'sent'
  | 'failed'
  | 'retried'
  | 'suppressed'
  | 'bounced'
  | 'complained'
  | 'opened'
  | 'clicked'
  | 'unsubscribed'
  | 'confirmed';

/** One delivery fact (kairos.dispatch.outcomes.v1, key profileId); see schemas/delivery-outcome.v1.schema.json. */
export interface DeliveryOutcomeRecord {
  /** Deterministic per fact (dispatchId/kind/attempt or token), so a republished copy is recognised. */
  outcomeId: string;
  kind: DeliveryOutcomeKind;
  dispatchId: string;
  profileId: string;
  /** ISO 8601. */
  at: string;
  channel: 'email' | 'webhook';
  templateId?: string;
  origin?: DispatchOrigin;
  /** Kind-specific detail: SMTP response and Message-ID, failure or suppression reason, clicked URL, attempt number. */
  detail?: Record<string, unknown>;
}
