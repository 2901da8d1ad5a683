import { AcceptedEvent, Identifier } from '@kairos/contracts';

export const IdentifierTypes = {
  userId: 'user_id',
  anonymousId: 'anonymous_id',
  email: 'email',
  phone: 'phone',
  deviceId: 'device_id',
  advertisingId: 'advertising_id',
  /** A Kairos profile id, as an event of Kairos' own addresses it (context.kairos): never linked, only suppressed. */
  profileId: 'profile_id',
} as const;

export const identifierKey = (identifier: Identifier): string => `${identifier.type}:${identifier.value}`;

/**
 * Every identifier an accepted event carries, normalised for matching, each once:
 * userId, anonymousId, e-mail (traits.email or context.traits.email; trimmed, lower-cased), phone (E.164),
 * context.device.id, the advertising id only when context.device.adTrackingEnabled is true, and
 * context.externalIds ({id, type}). An alias event's previousId is the id it names (see aliasTargets).
 */
export function extractIdentifiers(event: AcceptedEvent): Identifier[] {
  const found: Identifier[] = [];
  const add = (type: string, value: string | undefined) => {
    if (value !== undefined && value !== '' && !found.some((known) => known.type === type && known.value === value)) found.push({ type, value });
  };
  const context = asRecord(event.context);
  const contextTraits = asRecord(context['traits']);
  const traits = asRecord(event.traits);
  const device = asRecord(context['device']);

  add(IdentifierTypes.userId, event.identifiers.userId);
  add(IdentifierTypes.anonymousId, event.identifiers.anonymousId);
  add(IdentifierTypes.email, event.identifiers.email ?? normaliseEmail(traits['email']) ?? normaliseEmail(contextTraits['email']));
  add(IdentifierTypes.phone, normalisePhone(traits['phone']) ?? normalisePhone(contextTraits['phone']));
  add(IdentifierTypes.deviceId, text(device['id']));
  if (device['adTrackingEnabled'] === true) add(IdentifierTypes.advertisingId, text(device['advertisingId']));
  const externalIds = Array.isArray(context['externalIds']) ? context['externalIds'] : [];
  for (const external of externalIds) {
    const entry = asRecord(external);
    const type = text(entry['type'])?.toLowerCase();
    // A custom type may not pose as one of the built-in ones: their rules (user_id: one ever) would not hold.
    if (type && !Object.values<string>(IdentifierTypes).includes(type)) add(type, text(entry['id']));
  }
  return found;
}

/**
 * alias(previousId -> userId): previousId names an earlier anonymousId or userId. It is matched as whichever of the
 * two the graph knows, and linked as an anonymousId when it knows neither.
 */
export function aliasTargets(event: AcceptedEvent): Identifier[] {
  const previousId = event.type === 'alias' ? event.identifiers.previousId : undefined;
  if (!previousId) return [];
  return [
    { type: IdentifierTypes.anonymousId, value: previousId },
    { type: IdentifierTypes.userId, value: previousId },
  ];
}

export function normaliseEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(email) ? email : undefined;
}

/** E.164: a plus and 8 to 15 digits; spaces, dots, dashes and brackets are dropped, a leading 00 becomes a plus. */
export function normalisePhone(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const compact = String(value).trim().replace(/[\s.\-()/]/g, '').replace(/^00/, '+');
  return /^\+[1-9]\d{7,14}$/.test(compact) ? compact : undefined;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
