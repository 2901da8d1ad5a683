import { ProducerBackpressureError } from './record-producer';

/**
 * Thrown by a handler (or its repositories) when something it depends on cannot be reached: the SMTP server refuses
 * connections, an HTTP dependency times out. The consumer then waits for the dependency instead of counting the
 * failure against the records, which are not at fault.
 */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';

  constructor(
    readonly dependency: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} unavailable: ${detail}`, options);
  }
}

/**
 * The handler found that its partition now belongs to another instance (a state store's fencing epoch moved on):
 * the batch is neither poison nor retried as is; the consumer waits until kafkajs notices the rebalance and takes
 * the batch back uncommitted.
 */
export class PartitionMovedError extends Error {
  override readonly name: string = 'PartitionMovedError';
}

/** Network errors of Node's own sockets: the peer is down or unreachable, not the record at fault. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * PostgreSQL SQLSTATEs that say the server, not the statement, is the problem: connection exceptions (08), too many
 * connections or out of resources (53), shut down or starting up (57P01-57P04), a statement, lock or idle timeout
 * (57014, 55P03, 25P03), the conflicts a retry resolves (serialization failure 40001, deadlock 40P01), and what fails
 * every record alike while `SELECT 1` still answers: a read-only standby after a failover (25006), refused
 * credentials (28), a missing database (3D000) or a schema the migrations have not reached (42P01, 42703); and a
 * connection whose prepared statements are gone (26000 after a pooler's DISCARD ALL), which @kairos/persistence
 * discards so that the retry gets a new one.
 */
const POSTGRES_TRANSIENT = [/^08/, /^53/, /^57P0[1-4]$/, /^57014$/, /^55P03$/, /^40001$/, /^40P01$/, /^58/, /^25006$/, /^25P03$/, /^28/, /^3D000$/, /^42P01$/, /^42703$/, /^26000$/];

/**
 * A prepared statement a migration made stale fails with 0A000 and this message (the connection is discarded too);
 * other 0A000 errors ("feature not supported") can come from the data and stay the records' fault. The same test as
 * @kairos/persistence's isStalePreparedStatement, written here because this library cannot depend on that one
 * (its tests use @kairos/testing, which uses this library).
 */
const STALE_PLAN = /cached plan must not change result type/;

/** node-postgres reports a lost or refused connection with these messages and no SQLSTATE. */
const POSTGRES_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'terminating connection',
  'the database system is',
];

/** kafkajs errors whose cause is the record itself; every other kafkajs error is the cluster's state. */
const KAFKA_RECORD_FAULTS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

/**
 * Why this error is an outage of a dependency (database, broker, SMTP, back-pressure) rather than a fault of the
 * records being processed; undefined when nothing marks it as one. Follows `cause` and TypeORM's `driverError`, which
 * wrap the original error.
 */
export function outageReason(error: unknown): string | undefined {
  // kafkajs wraps a record's own fault (MESSAGE_TOO_LARGE) in errors that say nothing of it: look for one first.
  if (kafkaRecordFault(error)) return undefined;
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    const candidate = current as { name?: string; code?: unknown; message?: string; driverError?: unknown; cause?: unknown; originalError?: unknown };
    if (current instanceof DependencyUnavailableError) return current.message;
    if (current instanceof ProducerBackpressureError) return `broker back-pressure: ${current.message}`;
    if (typeof candidate.code === 'string') {
      if (NETWORK_CODES.has(candidate.code)) return `connection failed (${candidate.code}): ${candidate.message ?? ''}`.trim();
      if (POSTGRES_TRANSIENT.some((pattern) => pattern.test(candidate.code as string)) || (candidate.code === '0A000' && STALE_PLAN.test(candidate.message ?? ''))) {
        return `database unavailable (SQLSTATE ${candidate.code}): ${candidate.message ?? ''}`.trim();
      }
    }
    if (candidate.name?.startsWith('KafkaJS')) return `broker unavailable (${candidate.name}): ${candidate.message ?? ''}`.trim();
    if (typeof candidate.message === 'string' && POSTGRES_CONNECTION_MESSAGES.some((text) => candidate.message?.includes(text))) return `database unavailable: ${candidate.message}`;
    current = candidate.driverError ?? candidate.originalError ?? candidate.cause;
  }
  return undefined;
}

/**
 * The broker's error code when it refused a record for the record's own sake (MESSAGE_TOO_LARGE, INVALID_RECORD, ...):
 * sending it again can never succeed. Follows the causes kafkajs wraps it in.
 */
export function kafkaRecordFault(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    const candidate = current as { type?: string; cause?: unknown; originalError?: unknown; driverError?: unknown };
    if (candidate.type && KAFKA_RECORD_FAULTS.has(candidate.type)) return candidate.type;
    current = candidate.driverError ?? candidate.originalError ?? candidate.cause;
  }
  return undefined;
}

/** One line for logs and dead-letter headers; never "[object Object]". */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
