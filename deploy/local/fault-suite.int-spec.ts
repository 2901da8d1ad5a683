import { runFaultSuite } from './fault-suite';

/**
 * The fault suite's short form (the full one is `npm run faults`): every service killed once, the broker and
 * PostgreSQL restarted, the SMTP server down 20 s, second instances stopped mid-stream — and the ledger's mails
 * arrive each once, none lost, nothing dead-lettered.
 */
describe('the fault suite (short form)', () => {
  it('loses no mail, sends none twice and dead-letters nothing while services, broker, database and SMTP fail', async () => {
    const report = await runFaultSuite({ short: true, log: (line) => process.stderr.write(`${line}\n`) });
    expect(report.faults).toHaveLength(9);
    expect({ lost: report.lost.slice(0, 20), count: report.lost.length }).toEqual({ lost: [], count: 0 });
    // A duplicate is only acceptable inside the documented SMTP-acceptance window, and then it carries the same Message-ID.
    expect(report.duplicates.filter((duplicate) => !duplicate.sameMessageId)).toEqual([]);
    expect(Object.values(report.deadLettered).every((count) => count === 0) ? {} : report.deadLettered).toEqual({});
  }, 600_000);
});
