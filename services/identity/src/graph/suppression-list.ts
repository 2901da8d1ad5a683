import { createHash } from 'node:crypto';
import { Identifier } from '@kairos/contracts';
import { identifierKey } from '@kairos/identity-graph';

/** sha256 of "type:value", hex: what the suppression list stores instead of the erased identifier. */
export function suppressionHash(identifier: Identifier): string {
  return createHash('sha256').update(identifierKey(identifier)).digest('hex');
}
