import { EventResolution, IgnoredIdentifierReason, Identifier, ProfileMerge } from '@kairos/contracts';
import { identifierKey, IdentifierTypes } from './identifiers';
import { exceedsLimit, IdentityRules } from './identity-rules';
import { profileIdFor } from './profile-id';

/** What the graph needs of one event. */
export interface Observation {
  /** Unique per event and stable across replays (source and messageId): breaks the last ties and names founded profiles. */
  eventId: string;
  messageId: string;
  /** When Kairos received the event (the accepted event's receivedAt, recorded in the log), ms: orders profiles. */
  receivedAt: number;
  /** Event time, ms since the epoch: what identity rules' windows and lastSeenAt measure. */
  at: number;
  identifiers: Identifier[];
  /** alias: the previousId, matched as a userId when the graph knows it as one, else as an anonymousId. */
  previousId?: string;
}

export interface LinkState extends Identifier {
  /** Event time of the first event that linked it to the profile. */
  linkedAt: number;
  /** Latest event time it was seen with the profile; kept only while the identifier is shared by several profiles. */
  lastSeenAt: number;
}

export interface ProfileState {
  id: string;
  /**
   * The profile's founding event — the first Kairos received (then the earliest event time, then the event id):
   * the profile with the earliest origin survives a merge.
   */
  originReceivedAt: number;
  originAt: number;
  originEventId: string;
  /** Profiles merged into this one, transitively. */
  mergeCount: number;
  links: Map<string, LinkState>;
}

export type Resolution =
  | { status: 'resolved'; profileId: string; resolution: EventResolution; merges: ProfileMerge[] }
  | { status: 'unresolved'; reason: 'no_identifiers'; ignored: EventResolution['ignored'] };

/** What changed since the last takeChanges(), for the repository to write. */
export interface GraphChanges {
  /** Profiles created or changed (origin, merge count); their links are in `links`. */
  profiles: Array<Omit<ProfileState, 'links'> & { identifierCount: number }>;
  /** Links created or changed (moved by a merge, lastSeenAt), with their profile. */
  links: Array<LinkState & { profileId: string }>;
  /** Profiles merged away (also those founded and merged within the same batch): their rows point at the survivor, their links are gone. */
  mergedAway: Array<Omit<ProfileState, 'links'> & { survivorId: string }>;
  merges: ProfileMerge[];
}

interface Demotion {
  identifier: Identifier;
  reason: IgnoredIdentifierReason;
}

/**
 * The identity graph's rules, as a pure function of its state and one event at a time: match the event's identifiers
 * to profiles; attach, create or merge; and where a rule forbids the merge, demote the event's weakest identifier and
 * try again (Segment Unify's rule). The oldest profile survives a merge.
 *
 * A profile is named after the first of its events Kairos received (receivedAt, then event time, then event id), and an
 * event received before the profile's founding event re-founds the profile under its own id (a merge with reason
 * `earlier_event`). So however the events of a customer are interleaved — across partitions, consumers, a
 * rebalance — as long as no identity rule has to choose between them, the same events give the same profiles with
 * the same ids. Ordering by receipt rather than event time is what lets an import of last year's orders, or an
 * SDK's offline queue, join a customer without re-founding it: those events are old, but Kairos receives them after
 * the profile's founding event. Where a rule chooses (the first userId wins an e-mail), the order of processing
 * decides, as it does in every first-come identity graph.
 *
 * The graph holds part of the whole: the service loads what a batch of events touches (`unknownKeys`,
 * `unknownProfiles`) and writes what changed (`takeChanges`). Every decision is taken from loaded state only, so a
 * cache of any size gives the same answers.
 */
export class IdentityGraph {
  /** Insertion order doubles as recency: touched profiles are re-inserted, eviction takes the first. */
  private readonly profiles = new Map<string, ProfileState>();
  /** identifier key -> every profile it is linked to (complete, or absent when not loaded). */
  private readonly index = new Map<string, string[]>();
  private changedProfiles = new Set<string>();
  private changedLinks = new Map<string, Set<string>>();
  private mergedAway = new Map<string, Omit<ProfileState, 'links'> & { survivorId: string }>();
  private merges: ProfileMerge[] = [];

  constructor(
    readonly rules: IdentityRules,
    private readonly newProfileId: (eventId: string) => string = profileIdFor,
  ) {}

  get profileCount(): number {
    return this.profiles.size;
  }

  /** Identifier keys the observations need that are not loaded (including both readings of an alias's previousId). */
  unknownKeys(observations: readonly Observation[]): string[] {
    const keys = new Set<string>();
    for (const observation of observations) {
      for (const identifier of observation.identifiers) keys.add(identifierKey(identifier));
      if (observation.previousId !== undefined) {
        keys.add(identifierKey({ type: IdentifierTypes.userId, value: observation.previousId }));
        keys.add(identifierKey({ type: IdentifierTypes.anonymousId, value: observation.previousId }));
      }
    }
    return [...keys].filter((key) => !this.index.has(key));
  }

  /** Loads identifier entries: each key with every profile it is linked to (an empty list: unknown identifier). */
  learnIdentifiers(entries: Iterable<[string, string[]]>): void {
    for (const [key, profileIds] of entries) this.index.set(key, [...profileIds]);
  }

  /** Whether the identifier entry of this key is loaded. */
  knows(key: string): boolean {
    return this.index.has(key);
  }

  /** Profiles named by loaded identifier entries of these keys that are not loaded themselves. */
  unknownProfiles(keys: Iterable<string>): string[] {
    const missing = new Set<string>();
    for (const key of keys) for (const id of this.index.get(key) ?? []) if (!this.profiles.has(id)) missing.add(id);
    return [...missing];
  }

  learnProfiles(profiles: Iterable<ProfileState>): void {
    for (const profile of profiles) this.profiles.set(profile.id, profile);
  }

  /** A loaded profile, for inspection. */
  profile(id: string): ProfileState | undefined {
    return this.profiles.get(id);
  }

  /** Profile ids an identifier is linked to, when loaded. */
  profilesOf(identifier: Identifier): readonly string[] | undefined {
    return this.index.get(identifierKey(identifier));
  }

  /**
   * Where an event addressed to profile `id` (context.kairos) belongs now: the survivor the store knew before this
   * batch (`stored`; undefined when it knows no such profile, which then stands as `id`), followed through the merges
   * of this batch.
   */
  survivorOf(id: string, stored: string | undefined): string {
    let current = stored ?? id;
    for (let merged = this.mergedAway.get(current); merged; merged = this.mergedAway.get(current)) current = merged.survivorId;
    return current;
  }

  resolve(observation: Observation): Resolution {
    const ignored: EventResolution['ignored'] = [];
    const usable: Identifier[] = [];
    const saturated: Identifier[] = [];
    for (const identifier of this.identifiersOf(observation)) {
      if (this.rules.isBlocked(identifier)) ignored.push({ ...identifier, reason: 'blocked' });
      else if (this.linkedProfiles(identifier).length >= this.rules.caps.profilesPerIdentifier) saturated.push(identifier);
      else usable.push(identifier);
    }
    if (usable.length === 0 && saturated.length === 0) return { status: 'unresolved', reason: 'no_identifiers', ignored };

    // Match, and while a rule forbids the result, demote the weakest identifier and match again.
    const active = [...usable];
    const demoted: Demotion[] = saturated.map((identifier) => ({ identifier, reason: 'supernode' }));
    let candidates: ProfileState[] = [];
    while (active.length > 0) {
      candidates = this.candidatesFor(active);
      const refusal = this.refusal(candidates, active, observation.at);
      if (!refusal) break;
      const [weakestType] = this.rules.weakestFirst(active);
      const index = active.map((identifier) => identifier.type).lastIndexOf(weakestType ?? '');
      const [weakest] = active.splice(index, 1);
      if (weakest) demoted.push({ identifier: weakest, reason: refusal });
    }

    const merges: ProfileMerge[] = [];
    let profile: ProfileState;
    if (active.length === 0) {
      // Nothing may match on its own: the event belongs to whoever last used its strongest identifier (a shared
      // device's anonymous page view goes to the customer who used the device last); failing that, to a new profile.
      profile = this.lastUserOf(demoted.map((demotion) => demotion.identifier)) ?? this.found(observation);
    } else if (!candidates[0]) {
      profile = this.found(observation);
    } else {
      const oldest = candidates[0];
      if (before(observation, oldest)) {
        profile = this.found(observation);
        for (const loser of candidates) merges.push(this.merge(loser, profile, observation, 'earlier_event', active));
      } else {
        profile = oldest;
        for (const loser of candidates.slice(1)) merges.push(this.merge(loser, profile, observation, 'shared_identifier', active));
      }
    }

    const linked: Identifier[] = [];
    for (const identifier of active) if (this.link(profile, identifier, observation.at)) linked.push(identifier);
    // An identifier demoted by a limit still belongs to this customer too, as a shared one, where its own rules
    // allow (a family e-mail, a shop's tablet). One demoted by a cap is not linked: the caps exist to stop growth.
    for (const { identifier, reason } of demoted) {
      if (reason === 'limit' && this.mayShare(profile, identifier, observation.at)) {
        if (this.link(profile, identifier, observation.at)) linked.push(identifier);
      } else if (!profile.links.has(identifierKey(identifier))) {
        ignored.push({ ...identifier, reason });
      }
    }
    this.touch(profile);
    const matched = this.identifiersOf(observation).filter((identifier) => profile.links.has(identifierKey(identifier)));
    return {
      status: 'resolved',
      profileId: profile.id,
      resolution: { matched, linked, ignored, mergedProfileIds: merges.map((merge) => merge.loserId) },
      merges,
    };
  }

  /** Everything changed since the last call; the graph then counts as persisted. */
  takeChanges(): GraphChanges {
    const changes: GraphChanges = {
      profiles: [...this.changedProfiles].flatMap((id) => {
        const profile = this.profiles.get(id);
        if (!profile) return [];
        const { links, ...row } = profile;
        return [{ ...row, identifierCount: links.size }];
      }),
      links: [...this.changedLinks].flatMap(([profileId, keys]) => {
        const profile = this.profiles.get(profileId);
        if (!profile) return [];
        return [...keys].flatMap((key) => {
          const link = profile.links.get(key);
          return link ? [{ ...link, profileId }] : [];
        });
      }),
      mergedAway: [...this.mergedAway.values()],
      merges: this.merges,
    };
    this.changedProfiles = new Set();
    this.changedLinks = new Map();
    this.mergedAway = new Map();
    this.merges = [];
    return changes;
  }

  /** Forgets the least recently used profiles beyond `maxProfiles`, with the identifier entries that name them. */
  evict(maxProfiles: number): void {
    if (this.profiles.size <= maxProfiles) return;
    for (const [id, profile] of this.profiles) {
      if (this.profiles.size <= maxProfiles) break;
      this.profiles.delete(id);
      for (const key of profile.links.keys()) this.index.delete(key);
    }
    // Entries of identifiers no loaded profile holds (unknown ones, never linked) are cheap to read again.
    if (this.index.size > maxProfiles * 4) {
      for (const [key, ids] of this.index) if (ids.length === 0) this.index.delete(key);
    }
  }

  /**
   * Forgets what another writer changed: these identifiers' entries and these profiles (with the entries of their
   * links), so the next batch reads them again.
   */
  forget(keys: Iterable<string>, profileIds: Iterable<string>): void {
    for (const key of keys) this.index.delete(key);
    for (const id of profileIds) {
      const profile = this.profiles.get(id);
      if (!profile) continue;
      this.profiles.delete(id);
      for (const key of profile.links.keys()) this.index.delete(key);
    }
  }

  /** Forgets everything loaded (an erasure, a change feed this instance fell behind, or a write that failed). */
  clear(): void {
    this.profiles.clear();
    this.index.clear();
    this.takeChanges();
  }

  private identifiersOf(observation: Observation): Identifier[] {
    if (observation.previousId === undefined) return observation.identifiers;
    const asUser = { type: IdentifierTypes.userId, value: observation.previousId };
    const previous = this.linkedProfiles(asUser).length > 0 ? asUser : { type: IdentifierTypes.anonymousId, value: observation.previousId };
    const duplicate = observation.identifiers.some((identifier) => identifier.type === previous.type && identifier.value === previous.value);
    return duplicate ? observation.identifiers : [...observation.identifiers, previous];
  }

  private linkedProfiles(identifier: Identifier): string[] {
    const ids = this.index.get(identifierKey(identifier));
    if (!ids) throw new Error(`identifier ${identifierKey(identifier)} was not loaded before resolving`);
    return ids;
  }

  /** The profiles the identifiers are linked to, oldest first. */
  private candidatesFor(identifiers: readonly Identifier[]): ProfileState[] {
    const ids = new Set(identifiers.flatMap((identifier) => this.linkedProfiles(identifier)));
    return [...ids].map((id) => this.loaded(id)).sort(byOrigin);
  }

  /** Why the candidates and identifiers may not become one profile, or undefined when they may. */
  private refusal(candidates: readonly ProfileState[], identifiers: readonly Identifier[], at: number): IgnoredIdentifierReason | undefined {
    const fresh = identifiers.filter((identifier) => !candidates.some((profile) => profile.links.has(identifierKey(identifier))));
    if (candidates.length <= 1 && fresh.length === 0) return undefined; // nothing changes: the common case
    const combined = new Map<string, number[]>();
    const seen = new Set<string>();
    const add = (identifier: Identifier, linkedAt: number) => {
      const key = identifierKey(identifier);
      if (seen.has(key)) return;
      seen.add(key);
      const times = combined.get(identifier.type) ?? [];
      times.push(linkedAt);
      combined.set(identifier.type, times);
    };
    for (const profile of candidates) for (const link of profile.links.values()) add(link, link.linkedAt);
    for (const identifier of fresh) add(identifier, at);

    if (candidates.length > 1) {
      const merges = candidates.reduce((sum, profile) => sum + profile.mergeCount, 0) + candidates.length - 1;
      if (merges > this.rules.caps.mergesPerProfile) return 'merge_cap';
    }
    if (seen.size > this.rules.caps.identifiersPerProfile) return 'identifier_cap';
    // Only types that change can break a limit: a profile loaded under stricter old rules still takes its events.
    const changedTypes = new Set(candidates.length > 1 ? combined.keys() : fresh.map((identifier) => identifier.type));
    for (const type of changedTypes) if (exceedsLimit(combined.get(type) ?? [], this.rules.ruleFor(type))) return 'limit';
    return undefined;
  }

  private mayShare(profile: ProfileState, identifier: Identifier, at: number): boolean {
    const key = identifierKey(identifier);
    if (profile.links.has(key)) return true;
    const owners = this.linkedProfiles(identifier);
    if (owners.length >= this.rules.caps.profilesPerIdentifier) return false;
    const rule = this.rules.ruleFor(identifier.type);
    if (rule.unique && owners.length > 0) return false;
    if (profile.links.size + 1 > this.rules.caps.identifiersPerProfile) return false;
    const times = [...profile.links.values()].filter((link) => link.type === identifier.type).map((link) => link.linkedAt);
    return !exceedsLimit([...times, at], rule);
  }

  /** The profile that most recently used the strongest of these identifiers (ties: the smaller id). */
  private lastUserOf(identifiers: readonly Identifier[]): ProfileState | undefined {
    for (const type of this.rules.weakestFirst(identifiers).reverse()) {
      for (const identifier of identifiers.filter((candidate) => candidate.type === type)) {
        const key = identifierKey(identifier);
        const users = this.linkedProfiles(identifier).map((id) => this.loaded(id));
        const lastSeen = (profile: ProfileState) => profile.links.get(key)?.lastSeenAt ?? 0;
        users.sort((a, b) => lastSeen(b) - lastSeen(a) || (a.id < b.id ? -1 : 1));
        if (users[0]) return users[0];
      }
    }
    return undefined;
  }

  private found(observation: Observation): ProfileState {
    const id = this.newProfileId(observation.eventId);
    const existing = this.profiles.get(id);
    if (existing) return existing;
    const profile: ProfileState = { id, originReceivedAt: observation.receivedAt, originAt: observation.at, originEventId: observation.eventId, mergeCount: 0, links: new Map() };
    this.profiles.set(id, profile);
    this.changedProfiles.add(id);
    return profile;
  }

  /** Links the identifier to the profile; true when the link is new. Refreshes lastSeenAt of shared identifiers. */
  private link(profile: ProfileState, identifier: Identifier, at: number): boolean {
    const key = identifierKey(identifier);
    const owners = this.linkedProfiles(identifier);
    const existing = profile.links.get(key);
    if (existing) {
      if (owners.length > 1 && at > existing.lastSeenAt) {
        existing.lastSeenAt = at;
        this.markLink(profile.id, key);
      }
      return false;
    }
    profile.links.set(key, { type: identifier.type, value: identifier.value, linkedAt: at, lastSeenAt: at });
    owners.push(profile.id);
    this.markLink(profile.id, key);
    this.changedProfiles.add(profile.id);
    return true;
  }

  private merge(loser: ProfileState, survivor: ProfileState, observation: Observation, reason: ProfileMerge['reason'], bridge: readonly Identifier[]): ProfileMerge {
    const loserKeys = new Set(loser.links.keys());
    const survivorKeys = new Set(survivor.links.keys());
    for (const [key, link] of loser.links) {
      const kept = survivor.links.get(key);
      if (kept) {
        kept.linkedAt = Math.min(kept.linkedAt, link.linkedAt);
        kept.lastSeenAt = Math.max(kept.lastSeenAt, link.lastSeenAt);
      } else {
        survivor.links.set(key, { ...link });
      }
      this.markLink(survivor.id, key);
      const owners = this.index.get(key);
      if (owners) this.index.set(key, [...new Set(owners.map((id) => (id === loser.id ? survivor.id : id)))]);
    }
    survivor.mergeCount += loser.mergeCount + 1;
    this.profiles.delete(loser.id);
    this.changedProfiles.delete(loser.id);
    this.changedLinks.delete(loser.id);
    this.changedProfiles.add(survivor.id);
    const { links: _links, ...row } = loser;
    this.mergedAway.set(loser.id, { ...row, survivorId: survivor.id });
    for (const away of this.mergedAway.values()) if (away.survivorId === loser.id) away.survivorId = survivor.id;
    const merge: ProfileMerge = {
      loserId: loser.id,
      survivorId: survivor.id,
      mergedAt: new Date(observation.at).toISOString(),
      messageId: observation.messageId,
      reason,
      identifiers: reason === 'earlier_event' ? [...bridge] : bridge.filter((identifier) => loserKeys.has(identifierKey(identifier)) || survivorKeys.has(identifierKey(identifier))),
    };
    this.merges.push(merge);
    return merge;
  }

  private markLink(profileId: string, key: string): void {
    const keys = this.changedLinks.get(profileId) ?? new Set<string>();
    keys.add(key);
    this.changedLinks.set(profileId, keys);
  }

  private touch(profile: ProfileState): void {
    this.profiles.delete(profile.id);
    this.profiles.set(profile.id, profile);
  }

  private loaded(id: string): ProfileState {
    const profile = this.profiles.get(id);
    if (!profile) throw new Error(`profile ${id} was not loaded before resolving`);
    return profile;
  }
}

/**
 * Founding order: receipt, then event time (the events of one request share a receivedAt, and an SDK sends them in
 * the order they happened), then the event id, so that no two events tie.
 */
function compareOrigins(a: { receivedAt: number; at: number; eventId: string }, b: { receivedAt: number; at: number; eventId: string }): number {
  return a.receivedAt - b.receivedAt || a.at - b.at || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

const originOf = (profile: ProfileState) => ({ receivedAt: profile.originReceivedAt, at: profile.originAt, eventId: profile.originEventId });

const byOrigin = (a: ProfileState, b: ProfileState): number => compareOrigins(originOf(a), originOf(b));

/** Whether the event comes before the profile's founding event in founding order. */
function before(observation: Observation, profile: ProfileState): boolean {
  return compareOrigins(observation, originOf(profile)) < 0;
}
