/** A pending timer: owned by the key's partition, identified by (key, name); setting it again replaces it. */
export interface Timer {
  key: string;
  name: string;
  /** Epoch milliseconds. */
  dueAt: number;
  payload?: unknown;
}

export const timerId = (key: string, name: string): string => `${key}\u0000${name}`;

/** Timers fire in (dueAt, key, name) order, the order of the index they are read by. */
export function compareTimers(a: Timer, b: Timer): number {
  return a.dueAt - b.dueAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
