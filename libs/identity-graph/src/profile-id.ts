import { createHash } from 'node:crypto';

/**
 * A profile's id is derived from the event that founded it (a UUID in the v8 "custom" layout, from SHA-256), so
 * replaying the same events gives the same ids, and no random number is ever part of the graph.
 */
export function profileIdFor(eventId: string): string {
  const hex = createHash('sha256').update(`kairos-profile\u0000${eventId}`).digest('hex');
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
