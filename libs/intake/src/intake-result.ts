import { RejectionReason } from '@kairos/contracts';

export interface Rejection {
  ok: false;
  reason: RejectionReason;
  detail: string;
}

export type Outcome<T> = { ok: true; value: T } | Rejection;

export const reject = (reason: RejectionReason, detail: string): Rejection => ({ ok: false, reason, detail });
