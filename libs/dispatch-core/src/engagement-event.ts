/** What a recipient did with a mail, as dispatch's endpoints see it. */
export type EngagementKind = 'opened' | 'clicked' | 'unsubscribed' | 'resubscribed' | 'confirmed' | 'bounced' | 'complained';

/** The Segment track event names; segmentation's consent model reads Email Unsubscribed, Email Bounced, Email Marked as Spam and Double Opt-in Confirmed. */
export const ENGAGEMENT_EVENT_NAMES: Readonly<Record<EngagementKind, string>> = {
  opened: 'Email Opened',
  clicked: 'Email Clicked',
  unsubscribed: 'Email Unsubscribed',
  resubscribed: 'Subscribed',
  confirmed: 'Double Opt-in Confirmed',
  bounced: 'Email Bounced',
  complained: 'Email Marked as Spam',
};

export interface EngagementInput {
  kind: EngagementKind;
  profileId: string;
  dispatchId: string;
  at: Date;
  /** Distinguishes facts of one kind on one mail (the link index of a click); part of the messageId. */
  discriminator?: string;
  properties?: Record<string, unknown>;
  ip?: string;
  userAgent?: string;
}

/**
 * A Segment-format track event for the raw topic, so engagement flows through ingestion and identity like any event.
 * The messageId is deterministic per fact (the first open of a mail, a click on link n, the unsubscribe), so ingestion's
 * de-duplication drops the repeats. It is addressed to the profile the mail was sent to by its id (context.kairos), not
 * by an identifier: identity resolves it to that profile (or the one it has been merged into) and links nothing, so
 * an unsubscribe cannot land on another customer who shares an address or a userId trait.
 */
export function engagementEvent(input: EngagementInput): Record<string, unknown> {
  const messageId = ['kairos-dispatch', input.dispatchId, input.kind, ...(input.discriminator ? [input.discriminator] : [])].join(':');
  return {
    type: 'track',
    event: ENGAGEMENT_EVENT_NAMES[input.kind],
    messageId,
    timestamp: input.at.toISOString(),
    properties: { channel: 'email', dispatchId: input.dispatchId, profileId: input.profileId, ...input.properties },
    context: {
      kairos: { profileId: input.profileId },
      ...(input.ip ? { ip: input.ip } : {}),
      ...(input.userAgent ? { userAgent: input.userAgent } : {}),
      library: { name: 'kairos-dispatch', version: '1' },
    },
  };
}
