import { runFaultSuite } from './fault-suite';

/**
 * The fault suite's short form (the full one is `npm run faults`): every service killed once, the broker and
 * PostgreSQL restarted, the SMTP server down 20 s, second instances stopped mid-stream — and the ledger's mails
 * arrive each once, none lost, nothing dead-lettered; then the accepted topic replayed into empty stores gives the same
 * profiles, memberships and journey decisions, and no mail.
 */
describe('the fault suite (short form)', () => {
  it('loses no mail, sends none twice and dead-letters nothing while services, broker, database and SMTP fail; a replay decides the same', async () => {
    const report = await runFaultSuite({ short: true, log: (line) => process.stderr.write(`${line}\n`) });
    expect(report.faults).toHaveLength(9);
    expect({ lost: report.lost.slice(0, 20), count: report.lost.length }).toEqual({ lost: [], count: 0 });
    // A duplicate is only acceptable inside the documented SMTP-acceptance window, and then it carries the same Message-ID.
    expect(report.duplicates.filter((duplicate) => !duplicate.sameMessageId)).toEqual([]);
    expect(report.deadLetters).toEqual([]); // each with its reason and source record when not
    expect(Object.values(report.deadLettered).every((count) => count === 0) ? {} : report.deadLettered).toEqual({});
    // Replayed into empty stores, the accepted topic gives the same profiles, memberships and decisions — and no mail.
    const { replay } = report;
    expect(replay.decisions.live).toBeGreaterThanOrEqual(report.pings);
    expect(replay.memberships.live).toBeGreaterThan(0);
    expect(replay.profiles.live).toBeGreaterThan(0);
    expect({ profiles: replay.profiles.differing, memberships: replay.memberships.differing, decisions: replay.decisions.differing }).toEqual({ profiles: [], memberships: [], decisions: [] });
    expect({ sentAgain: replay.mailsSentAgain, deadLettered: replay.deadLettered }).toEqual({ sentAgain: 0, deadLettered: 0 });
  }, 600_000);
});
