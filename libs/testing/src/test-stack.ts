import { randomUUID } from 'node:crypto';

export interface TestStack {
  kafkaBrokers: string;
  databaseUrl: string;
  smtpUrl: string;
  /** The SMTP sink's HTTP inbox, when the harness started the sink. */
  inboxUrl?: string;
}

/** The real stack the harness started (or the environment pointed at). */
export function testStack(): TestStack {
  const { KAFKA_BROKERS, DATABASE_URL, SMTP_URL, SMTP_INBOX_URL } = process.env;
  if (!KAFKA_BROKERS || !DATABASE_URL || !SMTP_URL) {
    throw new Error('integration tests need the stack: run them through `npm test` (or jest -c jest.int.config.ts), which starts it');
  }
  return { kafkaBrokers: KAFKA_BROKERS, databaseUrl: DATABASE_URL, smtpUrl: SMTP_URL, inboxUrl: SMTP_INBOX_URL };
}

/** A name no other test uses: tests share one broker and one database, and never each other's topics or schemas. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
