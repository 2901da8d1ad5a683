import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';

/**
 * A pooled connection of the data source for `work` (search_path is the service's schema), released after it; a
 * connection that failed as a connection (not a statement's error) is discarded instead of handed out again.
 */
export async function withPooledClient<T>(dataSource: DataSource, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const driver = dataSource.driver as unknown as { obtainMasterConnection(): Promise<[PoolClient, (error?: unknown) => void]> };
  const [client, release] = await driver.obtainMasterConnection();
  let failure: unknown;
  try {
    return await work(client);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    release(isConnectionError(failure) ? failure : undefined);
  }
}

const names = new Map<string, string>();

/**
 * The statement as a named prepared statement: each connection parses and plans it once (PostgreSQL then keeps a
 * generic plan when it costs no more than the custom ones), instead of on every call. For the statements a stage runs
 * per batch or per mail; behind PgBouncer in transaction mode this needs its max_prepared_statements (1.21 or later;
 * docs/operations.md).
 */
export function prepared(text: string, values: unknown[]): { name: string; text: string; values: unknown[] } {
  let name = names.get(text);
  if (!name) {
    name = `kairos_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return { name, text, values };
}

/**
 * The connection's prepared statements are gone (26000: a pooler's DISCARD ALL, or PgBouncer without
 * max_prepared_statements) or stale (0A000 "cached plan must not change result type": a migration changed a result
 * type). Every later use of that connection fails the same way, a new connection does not; other 0A000 errors
 * ("feature not supported") can come from the data.
 */
export function isStalePreparedStatement(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === '26000' || (code === '0A000' && /cached plan must not change result type/.test(message ?? ''));
}

/** A connection that failed this way is not handed out again: a broken connection, or stale prepared statements. */
export function isConnectionError(error: unknown): boolean {
  if (!error) return false;
  const { code, message } = error as { code?: string; message?: string };
  if (isStalePreparedStatement(error)) return true;
  return code?.startsWith('08') || code?.startsWith('57P') || /Connection terminated|connection error|ECONNRESET/.test(message ?? '') ? true : false;
}

/** One prepared statement on a pooled connection of the data source; its rows. */
export async function queryPrepared<T>(dataSource: DataSource, text: string, values: unknown[]): Promise<T[]> {
  return withPooledClient(dataSource, async (client) => (await client.query(prepared(text, values))).rows as T[]);
}
