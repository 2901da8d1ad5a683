/** A record waiting in the outbox table for the relay to publish. */
export interface OutboxRecord {
  topic: string;
  key: string | null;
  value: string;
  headers?: Record<string, string>;
}

/** The parameters of `INSERT INTO outbox … SELECT FROM unnest($n…)`: one array per column. */
export function outboxColumns(records: readonly OutboxRecord[]): [string[], Array<string | null>, string[], Array<string | null>] {
  return [
    records.map((record) => record.topic),
    records.map((record) => record.key),
    records.map((record) => record.value),
    records.map((record) => (record.headers ? JSON.stringify(record.headers) : null)),
  ];
}

/** SQL selecting the outbox rows from four array parameters starting at `$first`. */
export function outboxRows(first: number): string {
  return `SELECT * FROM unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::text[], $${first + 3}::jsonb[]) AS o(topic, key, value, headers)`;
}
