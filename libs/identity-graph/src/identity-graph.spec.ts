import { Identifier } from '@kairos/contracts';
import { identifierKey } from './identifiers';
import { GraphChanges, IdentityGraph, Observation, ProfileState, Resolution } from './identity-graph';
import { IdentityRules, IdentityRulesOptions } from './identity-rules';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2026-01-05T10:00:00Z');

const user = (value: string): Identifier => ({ type: 'user_id', value });
const anon = (value: string): Identifier => ({ type: 'anonymous_id', value });
const email = (value: string): Identifier => ({ type: 'email', value });
const device = (value: string): Identifier => ({ type: 'device_id', value });

let sequence = 0;
/** An event as a live stream has it: received when it happened, unless `extra.receivedAt` says otherwise. */
function event(identifiers: Identifier[], at = T0 + sequence * 1000, extra: Partial<Observation> = {}): Observation {
  sequence += 1;
  const messageId = `m-${String(sequence).padStart(6, '0')}`;
  return { eventId: `test/${messageId}`, messageId, receivedAt: at, at, identifiers, ...extra };
}

/**
 * What the PostgreSQL repository does, in memory: rows written from takeChanges(), and loaded into the graph before
 * each resolve. The graph itself may forget anything (evict), so this is also how the cache is tested.
 */
class MemoryStore {
  readonly profiles = new Map<string, { originReceivedAt: number; originAt: number; originEventId: string; mergeCount: number; mergedInto?: string }>();
  readonly links = new Map<string, Map<string, ProfileState['links'] extends Map<string, infer L> ? L : never>>(); // key -> profileId -> link

  constructor(readonly graph: IdentityGraph, private readonly cacheSize = Infinity) {}

  resolve(observation: Observation): Resolution {
    const keys = this.graph.unknownKeys([observation]);
    this.graph.learnIdentifiers(keys.map((key) => [key, [...(this.links.get(key)?.keys() ?? [])]]));
    const allKeys = [...keys, ...observation.identifiers.map(identifierKey)];
    this.graph.learnProfiles(this.graph.unknownProfiles(allKeys).map((id) => this.load(id)));
    const resolution = this.graph.resolve(observation);
    this.write(this.graph.takeChanges());
    this.graph.evict(this.cacheSize);
    return resolution;
  }

  /** profile id -> its identifier keys, sorted: the graph as a comparable value. */
  snapshot(): Record<string, string[]> {
    const result: Record<string, string[]> = {};
    for (const [key, owners] of this.links) for (const id of owners.keys()) (result[id] ??= []).push(key);
    for (const keys of Object.values(result)) keys.sort();
    return Object.fromEntries(Object.entries(result).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  private load(id: string): ProfileState {
    const row = this.profiles.get(id)!;
    const links = new Map();
    for (const [key, owners] of this.links) {
      const link = owners.get(id);
      if (link) links.set(key, { ...link });
    }
    return { id, originReceivedAt: row.originReceivedAt, originAt: row.originAt, originEventId: row.originEventId, mergeCount: row.mergeCount, links };
  }

  private write(changes: GraphChanges): void {
    for (const { survivorId, ...row } of changes.mergedAway) {
      this.profiles.set(row.id, { ...row, mergedInto: survivorId });
      const id = row.id;
      for (const owners of this.links.values()) owners.delete(id);
    }
    for (const { identifierCount: _count, ...row } of changes.profiles) this.profiles.set(row.id, row);
    for (const { profileId, ...link } of changes.links) {
      const key = identifierKey(link);
      const owners = this.links.get(key) ?? new Map();
      owners.set(profileId, { ...link });
      this.links.set(key, owners);
    }
  }
}

function store(options: IdentityRulesOptions = {}, cacheSize = Infinity): MemoryStore {
  return new MemoryStore(new IdentityGraph(new IdentityRules(options)), cacheSize);
}

function resolved(resolution: Resolution): Extract<Resolution, { status: 'resolved' }> {
  if (resolution.status !== 'resolved') throw new Error(`expected a resolution, got ${JSON.stringify(resolution)}`);
  return resolution;
}

describe('IdentityGraph', () => {
  it('creates a profile for an anonymous visitor and attaches the login to it', () => {
    const graph = store();
    const browse = resolved(graph.resolve(event([anon('a1')])));
    const login = resolved(graph.resolve(event([user('u1'), anon('a1'), email('anna@example.ch')])));
    expect(login.profileId).toBe(browse.profileId);
    expect(login.resolution.linked).toEqual([user('u1'), email('anna@example.ch')]);
    expect(login.merges).toEqual([]);
    expect(graph.snapshot()).toEqual({ [browse.profileId]: ['anonymous_id:a1', 'email:anna@example.ch', 'user_id:u1'] });
  });

  it('anonymous -> identify -> merge: browsing on a new device merges into the known customer, oldest survives', () => {
    const graph = store();
    const known = resolved(graph.resolve(event([user('u1'), anon('phone-a')])));
    const newDevice = resolved(graph.resolve(event([anon('laptop-a')])));
    expect(newDevice.profileId).not.toBe(known.profileId);

    const login = resolved(graph.resolve(event([user('u1'), anon('laptop-a')])));
    expect(login.profileId).toBe(known.profileId);
    expect(login.resolution.mergedProfileIds).toEqual([newDevice.profileId]);
    expect(login.merges).toEqual([
      expect.objectContaining({ loserId: newDevice.profileId, survivorId: known.profileId, reason: 'shared_identifier', identifiers: [user('u1'), anon('laptop-a')] }),
    ]);
    expect(graph.snapshot()).toEqual({ [known.profileId]: ['anonymous_id:laptop-a', 'anonymous_id:phone-a', 'user_id:u1'] });
    expect(graph.profiles.get(newDevice.profileId)?.mergedInto).toBe(known.profileId);
  });

  it('joins two anonymous journeys by the same e-mail', () => {
    const graph = store();
    const first = resolved(graph.resolve(event([anon('a1')])));
    const second = resolved(graph.resolve(event([anon('a2')])));
    resolved(graph.resolve(event([anon('a1'), email('x@example.ch')])));
    const signUp = resolved(graph.resolve(event([anon('a2'), email('x@example.ch')])));
    expect(signUp.profileId).toBe(first.profileId);
    expect(signUp.resolution.mergedProfileIds).toEqual([second.profileId]);
    expect(Object.keys(graph.snapshot())).toEqual([first.profileId]);
  });

  it('demotes the e-mail when it would give a profile a second userId: a new userId with an existing e-mail gets a new profile', () => {
    const graph = store();
    const anna = resolved(graph.resolve(event([user('u1'), email('family@example.ch')])));
    const ben = resolved(graph.resolve(event([user('u2'), email('family@example.ch')])));
    expect(ben.profileId).not.toBe(anna.profileId);
    expect(ben.merges).toEqual([]);
    // The e-mail is Ben's too, as a shared identifier; it never joins the two.
    expect(ben.resolution.matched).toEqual([user('u2'), email('family@example.ch')]);
    expect(graph.snapshot()).toEqual({
      [anna.profileId]: ['email:family@example.ch', 'user_id:u1'],
      [ben.profileId]: ['email:family@example.ch', 'user_id:u2'],
    });
    // An event with only the shared e-mail goes to whoever used it last.
    expect(resolved(graph.resolve(event([email('family@example.ch')]))).profileId).toBe(ben.profileId);
  });

  it('ignores blocked values and resolves on what is left; an event with nothing usable stays unresolved', () => {
    const graph = store({ blockedValues: ['Test@Shop.ch'] });
    const result = resolved(graph.resolve(event([user('null'), anon('a1'), email('test@shop.ch')])));
    expect(result.resolution.ignored).toEqual([
      { ...user('null'), reason: 'blocked' },
      { ...email('test@shop.ch'), reason: 'blocked' },
    ]);
    expect(graph.snapshot()).toEqual({ [result.profileId]: ['anonymous_id:a1'] });
    for (const value of ['0', '00000', '-1', '---', 'undefined', 'Anonymous', 'INVALID', 'empty', '  ']) {
      expect(graph.resolve(event([anon(value)]))).toMatchObject({ status: 'unresolved', reason: 'no_identifiers' });
    }
  });

  it('never merges two users who shared a device; anonymous events go to the last user of the device', () => {
    const graph = store();
    const u1 = resolved(graph.resolve(event([user('u1'), anon('tablet')])));
    const u2 = resolved(graph.resolve(event([user('u2'), anon('tablet')])));
    expect(u2.profileId).not.toBe(u1.profileId);
    expect(u2.merges).toEqual([]);
    expect(resolved(graph.resolve(event([anon('tablet')]))).profileId).toBe(u2.profileId);
    resolved(graph.resolve(event([user('u1'), anon('tablet')])));
    expect(resolved(graph.resolve(event([anon('tablet')]))).profileId).toBe(u1.profileId);
    expect(Object.keys(graph.snapshot())).toHaveLength(2);
  });

  it('an alias links previousId to the userId: as the anonymousId it was, or as an earlier userId when the graph knows one', () => {
    const graph = store();
    const visitor = resolved(graph.resolve(event([anon('a1')])));
    const alias = resolved(graph.resolve(event([user('u1')], undefined, { previousId: 'a1' })));
    expect(alias.profileId).toBe(visitor.profileId);
    expect(graph.snapshot()[visitor.profileId]).toEqual(['anonymous_id:a1', 'user_id:u1']);

    // Two known userIds: user_id allows one per profile, so the alias cannot merge them and the event stays with u2.
    const other = resolved(graph.resolve(event([user('u2')])));
    const blocked = resolved(graph.resolve(event([user('u2')], undefined, { previousId: 'u1' })));
    expect(blocked.profileId).toBe(other.profileId);
    expect(blocked.resolution.ignored).toEqual([{ ...user('u1'), reason: 'limit' }]);
  });

  it('limits anonymousIds per profile per week: the sixth in a week is not linked, one a week later is', () => {
    const graph = store();
    const profile = resolved(graph.resolve(event([user('u1'), anon('a1')], T0)));
    for (let i = 2; i <= 5; i++) resolved(graph.resolve(event([user('u1'), anon(`a${i}`)], T0 + i * 1000)));
    const sixth = resolved(graph.resolve(event([user('u1'), anon('a6')], T0 + 6 * 1000)));
    expect(sixth.profileId).toBe(profile.profileId);
    expect(sixth.resolution.ignored).toEqual([{ ...anon('a6'), reason: 'limit' }]);
    const nextWeek = resolved(graph.resolve(event([user('u1'), anon('a7')], T0 + 8 * DAY)));
    expect(nextWeek.resolution.linked).toEqual([anon('a7')]);
  });

  it('stops merging at the merge cap and linking at the identifier cap', () => {
    const capped = store({ caps: { mergesPerProfile: 2 }, rules: [{ type: 'anonymous_id', limit: 100 }] });
    const survivor = resolved(capped.resolve(event([email('x@example.ch'), anon('a0')])));
    for (let i = 1; i <= 3; i++) resolved(capped.resolve(event([anon(`a${i}`)])));
    expect(resolved(capped.resolve(event([email('x@example.ch'), anon('a1')]))).merges).toHaveLength(1);
    expect(resolved(capped.resolve(event([email('x@example.ch'), anon('a2')]))).merges).toHaveLength(1);
    const third = resolved(capped.resolve(event([email('x@example.ch'), anon('a3')])));
    expect(third.merges).toEqual([]);
    expect(third.profileId).toBe(survivor.profileId);
    expect(third.resolution.ignored).toEqual([{ ...anon('a3'), reason: 'merge_cap' }]);

    const small = store({ caps: { identifiersPerProfile: 3 }, rules: [{ type: 'anonymous_id', limit: 100 }] });
    const profile = resolved(small.resolve(event([user('u1'), anon('b1'), anon('b2')])));
    const full = resolved(small.resolve(event([user('u1'), anon('b3')])));
    expect(full.profileId).toBe(profile.profileId);
    expect(full.resolution.ignored).toEqual([{ ...anon('b3'), reason: 'identifier_cap' }]);
  });

  it('stops a 10,000-user supernode (team@company.com) at the guard: 50 links, no merges, every user their own profile', () => {
    const graph = store();
    const team = email('team@company.com');
    const profiles = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const result = resolved(graph.resolve(event([user(`u${i}`), team])));
      expect(result.merges).toEqual([]);
      profiles.add(result.profileId);
    }
    expect(profiles.size).toBe(10_000);
    expect(graph.graph.profilesOf(team)).toHaveLength(50);
    const late = resolved(graph.resolve(event([user('u9999'), team])));
    expect(late.resolution.ignored).toEqual([{ ...team, reason: 'supernode' }]);
  });

  it('resolves the same event twice to the same profile, changing nothing', () => {
    const graph = store();
    const first = event([user('u1'), anon('a1')]);
    const once = resolved(graph.resolve(first));
    const before = graph.snapshot();
    const again = resolved(graph.resolve(first));
    expect(again.profileId).toBe(once.profileId);
    expect(again.resolution.linked).toEqual([]);
    expect(graph.snapshot()).toEqual(before);
  });

  describe('order independence', () => {
    // Three customers: anonymous browsing, newsletter sign-ups, logins on two devices, an alias; a fourth whose
    // offline queue arrives in one request (one receivedAt) after they logged in; a fifth with an import of last
    // year's orders.
    const journey = (): Observation[] => {
      const at = (minutes: number) => T0 + minutes * 60_000;
      const lastYear = T0 - 365 * DAY;
      return [
        event([anon('c1-web')], at(0)),
        event([anon('c1-web')], at(1)),
        event([anon('c1-web'), email('c1@example.ch')], at(2)),
        event([user('c1'), anon('c1-app'), device('c1-phone')], at(3)),
        event([user('c1'), email('c1@example.ch')], at(4)),
        event([anon('c2-web')], at(5)),
        event([anon('c2-tab')], at(6)),
        event([anon('c2-tab'), email('c2@example.ch')], at(7)),
        event([anon('c2-web'), email('c2@example.ch')], at(8)),
        event([user('c3')], at(9), { previousId: 'c3-web' }),
        event([anon('c3-web')], at(2)),
        event([user('c4'), anon('c4-app')], at(10)),
        event([anon('c4-app')], at(3), { receivedAt: at(11) }),
        event([anon('c4-app'), email('c4@example.ch')], at(4), { receivedAt: at(11) }),
        event([anon('c4-web'), email('c4@example.ch')], at(5), { receivedAt: at(11) }),
        event([user('c5'), email('c5@example.ch')], at(12)),
        event([user('c5')], lastYear, { receivedAt: at(13) }),
        event([user('c5'), anon('c5-pos')], lastYear + DAY, { receivedAt: at(13) }),
      ];
    };

    it('gives the same profiles, with the same ids, whatever order the events are processed in', () => {
      const events = journey();
      const reference = store();
      for (const observation of [...events].sort((a, b) => a.receivedAt - b.receivedAt || a.at - b.at)) reference.resolve(observation);
      const expected = reference.snapshot();
      expect(Object.keys(expected)).toHaveLength(5);

      let seed = 7;
      const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
      for (let round = 0; round < 50; round++) {
        const shuffled = [...events].sort(() => random() - 0.5);
        const graph = store();
        for (const observation of shuffled) graph.resolve(observation);
        expect(graph.snapshot()).toEqual(expected);
      }
    });

    it('re-founds a profile when an event received before its founding event is processed after it, and says so with a merge', () => {
      // The page view and the login were received a minute apart, on two partitions; the login's was processed first.
      const graph = store();
      const login = resolved(graph.resolve(event([user('u1'), anon('a1')], T0 + 60_000)));
      const late = resolved(graph.resolve(event([anon('a1')], T0)));
      expect(late.profileId).not.toBe(login.profileId);
      expect(late.merges).toEqual([expect.objectContaining({ loserId: login.profileId, survivorId: late.profileId, reason: 'earlier_event' })]);
      expect(graph.snapshot()).toEqual({ [late.profileId]: ['anonymous_id:a1', 'user_id:u1'] });
    });

    it('joins an import of last year\'s orders to the existing customer: no new profile, no merge', () => {
      const graph = store();
      const customer = resolved(graph.resolve(event([user('u1'), email('u1@example.ch')], T0)));
      const january = T0 - 365 * DAY;
      for (let day = 0; day < 3; day++) {
        // Imported now: received an hour after the customer's profile was founded, dated a year back.
        const order = resolved(graph.resolve(event([user('u1')], january + day * DAY, { receivedAt: T0 + 3_600_000 })));
        expect(order.profileId).toBe(customer.profileId);
        expect(order.merges).toEqual([]);
      }
      // A guest order of last year, imported with its e-mail, joins the same profile.
      const guest = resolved(graph.resolve(event([email('u1@example.ch'), anon('pos-1')], january, { receivedAt: T0 + 3_600_000 })));
      expect(guest).toMatchObject({ profileId: customer.profileId, merges: [] });
      expect(graph.snapshot()).toEqual({ [customer.profileId]: ['anonymous_id:pos-1', 'email:u1@example.ch', 'user_id:u1'] });
    });

    it('orders the events of one request (one receivedAt) by event time: an offline queue founds no profile twice', () => {
      const graph = store();
      const receivedAt = T0 + 3_600_000;
      const queue = [0, 1, 2].map((minute) => event([anon('offline')], T0 + minute * 60_000, { receivedAt, eventId: `test/z-${9 - minute}` }));
      const results = queue.map((observation) => resolved(graph.resolve(observation)));
      expect(new Set(results.map((result) => result.profileId)).size).toBe(1);
      expect(results.flatMap((result) => result.merges)).toEqual([]);
    });
  });

  it('answers the same with a cache of two profiles as with the whole graph in memory', () => {
    const observations: Observation[] = [];
    for (let i = 0; i < 200; i++) {
      observations.push(event([anon(`a${i}`)]));
      if (i % 3 === 0) observations.push(event([user(`u${i}`), anon(`a${i}`), email(`p${i % 20}@example.ch`)]));
      if (i % 7 === 0) observations.push(event([user(`u${i - (i % 3)}`), device(`d${i}`)]));
    }
    const whole = store();
    const cached = store({}, 2);
    for (const observation of observations) {
      expect(cached.resolve(observation)).toEqual(whole.resolve(observation));
    }
    expect(cached.snapshot()).toEqual(whole.snapshot());
    expect(cached.graph.profileCount).toBeLessThanOrEqual(2);
  });

  it('forgets what another writer changed, so that it must be read again', () => {
    const graph = store();
    const anna = resolved(graph.resolve(event([user('u1'), anon('a1')])));
    expect(graph.graph.knows('anonymous_id:a1')).toBe(true);
    graph.graph.forget(['email:x@example.ch'], [anna.profileId]);
    expect(graph.graph.profile(anna.profileId)).toBeUndefined();
    // The profile's own identifiers went with it: their entries may name profiles that changed too.
    expect(graph.graph.knows('anonymous_id:a1')).toBe(false);
    expect(() => graph.graph.resolve(event([anon('a1')]))).toThrow('identifier anonymous_id:a1 was not loaded before resolving');
    expect(resolved(graph.resolve(event([anon('a1')]))).profileId).toBe(anna.profileId);
  });

  it('refuses to resolve against identifiers it was not given', () => {
    const graph = new IdentityGraph(new IdentityRules());
    expect(() => graph.resolve(event([user('u1')]))).toThrow('identifier user_id:u1 was not loaded before resolving');
  });
});
