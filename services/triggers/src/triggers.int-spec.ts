import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DispatchRequestRecord, EVENT_SCHEMAS, JourneyOutcomeRecord, JourneysTransferRecord, ProfileUpdateRecord, SchemaIds, SegmentChangeRecord, SchemaValidator, SplitWinnerRecord, Topics } from '@kairos/contracts';
import { splitPick } from '@kairos/journeys';
import { publishFolder } from '@kairos/definitions-topic';
import { BatchConsumer, connectKafka, keyPartition, rawDecoder, RecordProducer } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { applyEvent, buildModelFromRules, emptyProfileState, ProfileEvent, ProfileState } from '@kairos/segmentation';
import { metricValue, readTopic, serviceTestEnv, ServiceProcess, startServiceProcess, testStack, uniqueName, untilMetrics } from '@kairos/testing';

/**
 * Triggers end to end against the real broker and PostgreSQL. Segmentation is stood in for by producing the
 * ProfileUpdateRecords it emits straight onto kairos.profiles.updates.v1 (states built with its pure core); dispatch
 * requests and journey outcomes are read back from their topics. Journeys carry this run's id, so the shared topics
 * and the shared definitions topic do not mix runs.
 */
describe('triggers against the real stack', () => {
  const { kafkaBrokers } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'triggers-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const run = randomUUID().slice(0, 8);
  const folder = mkdtempSync(join(tmpdir(), 'kairos-triggers-'));
  const model = buildModelFromRules([]);
  const id = (name: string) => `${name}-${run}`;
  let service: ServiceProcess | undefined;
  let env: Record<string, string> = {};
  let healthPort = 0;
  let sequence = 0;
  const birthdayAt = Math.ceil((Date.now() + 60_000) / 60_000) * 60_000;
  const birthdayProfile = randomUUID();
  let birthday = '';

  // Everything this run's journeys publish, collected by one reader from the beginning of both topics.
  const requests: DispatchRequestRecord[] = [];
  const outcomes: JourneyOutcomeRecord[] = [];
  let reader: BatchConsumer | undefined;
  /** Where this run's input begins: the replay starts there (the shared topic holds other runs' and benches' records). */
  let inputStart: Array<{ partition: number; offset: string }> = [];

  async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The profiles of the scenarios above the restart: the replay must decide for them as the live run did. */
  const decided: string[] = [];
  const requestsOf = (profileId: string) => requests.filter((request) => request.profileId === profileId);
  const outcomesOf = (profileId: string, kind?: JourneyOutcomeRecord['kind']) => outcomes.filter((outcome) => outcome.profileId === profileId && (kind === undefined || outcome.kind === kind));
  const templatesOf = (profileId: string) => requestsOf(profileId).map((request) => (request.channel === 'email' ? request.templateId : request.url));

  /** A profile's state as segmentation keeps it, after these events (consent, traits, series). */
  function stateAfter(profileId: string, events: ProfileEvent[]): ProfileState {
    return events.reduce((state, event) => applyEvent(state, event, model, Date.parse(event.timestamp)).state, emptyProfileState(profileId));
  }

  function event(name: string, at: number, properties: Record<string, unknown> = {}): ProfileEvent {
    return { type: 'track', event: name, timestamp: new Date(at).toISOString(), messageId: `${run}-m${++sequence}`, properties };
  }

  const consented = (at: number): ProfileEvent[] => [event('Subscribed', at - 2_000), event('Subscription Confirmed', at - 1_000)];

  /** The record segmentation would emit for `input` applied to a profile with `history` before it. */
  function update(profileId: string, input: ProfileEvent, history: ProfileEvent[] = [], segments: ProfileUpdateRecord['segments'] = {}): ProfileUpdateRecord {
    return {
      updateId: `${profileId}/${input.messageId}`,
      profileId,
      at: input.timestamp,
      input: { kind: 'event', event: { ...input, profileId } as never },
      state: stateAfter(profileId, [...history, input]) as unknown as ProfileUpdateRecord['state'],
      segments,
      changes: [],
    };
  }

  async function produce(...updates: ProfileUpdateRecord[]): Promise<void> {
    await producer.send(Topics.profileUpdates.name, updates.map((value) => ({ key: value.profileId, value: JSON.stringify(value) })));
  }

  /** A transactional mail of the marker journey: once it is out, everything before it for the profile was decided. */
  async function marker(profileId: string, at = Date.now()): Promise<void> {
    const input = event(`Marker ${run}`, at);
    await produce(update(profileId, input));
    await waitFor(`the marker of ${profileId}`, () => requestsOf(profileId).some((request) => request.channel === 'email' && request.templateId === id('marker')));
  }

  function writeJourney(name: string, yaml: string): void {
    writeFileSync(join(folder, 'journeys', `${id(name)}.yaml`), `kind: journey\nid: ${id(name)}\n${yaml}`);
  }

  function writeTemplate(name: string, purpose: 'marketing' | 'transactional'): void {
    const directory = join(folder, 'templates', id(name));
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, 'template.yaml'), `kind: template\nid: ${id(name)}\nchannel: email\npurpose: ${purpose}\nfrom: Shop <hello@shop.example>\ncontext:\n  profile:\n    email: string\n`);
    writeFileSync(join(directory, 'subject.hbs'), `${name}\n`);
    writeFileSync(join(directory, 'html.hbs'), `<p>${name}</p>\n`);
  }

  /** Quiet hours from 10 to 14 hours ahead of the UTC hour now: a UTC profile is outside them, a UTC+12 one inside. */
  const quietFromHour = new Date().getUTCHours();
  function quietWindow(): string {
    const hour = quietFromHour;
    const at = (offset: number) => `${String((hour + offset) % 24).padStart(2, '0')}:00`;
    return `${at(10)}-${at(14)}`;
  }

  async function startService(): Promise<void> {
    healthPort = await freePort();
    service = await startServiceProcess('triggers', env, healthPort);
  }

  beforeAll(async () => {
    mkdirSync(join(folder, 'journeys'), { recursive: true });
    mkdirSync(join(folder, 'segments'), { recursive: true });
    writeFileSync(join(folder, 'segments', `big-spenders-${run}.yaml`), `kind: segment\nid: big-spenders-${run}\nrule:\n  aggregate:\n    sum: revenue\n    of: Order Completed\n  atLeast: 5000\n`);
    for (const name of ['welcome', 'reminder', 'vip', 'promo', 'goal-mail']) writeTemplate(name, 'marketing');
    for (const name of ['marker', 'later', 'birthday']) writeTemplate(name, 'transactional');
    writeJourney('marker', `trigger:\n  event: Marker ${run}\nreentry:\n  allow: always\n  activeInstances: unlimited\nsteps:\n  - send: ${id('marker')}\n`);
    writeJourney('welcome', `trigger:\n  event: Signed Up ${run}\nreentry:\n  allow: once\nsteps:\n  - send: ${id('welcome')}\n  - wait: 1s\n  - send: ${id('welcome')}\n  - wait: 1s\n  - send: ${id('welcome')}\n`);
    writeJourney(
      'cart',
      `trigger:\n  event: Cart Updated ${run}\n  where:\n    - property: products\n      exists: true\n  unlessFollowedBy:\n    event: Order Completed ${run}\n    match: cartId\n    within: 2s\nreentry:\n  allow: always\n  activeInstances: onePerKey\n  key: cartId\nsteps:\n  - send: ${id('reminder')}\n`,
    );
    writeJourney('vip', `trigger:\n  threshold:\n    inSegment: big-spenders-${run}\nreentry:\n  allow: always\nsteps:\n  - send: ${id('vip')}\n`);
    writeFileSync(join(folder, 'segments', `newsletter-${run}.yaml`), `kind: segment\nid: newsletter-${run}\nrule:\n  trait: newsletter\n  equals: true\n`);
    writeJourney('on-entry', `trigger:\n  segment: newsletter-${run}\n  on: enter\nreentry:\n  allow: always\nsteps:\n  - send: ${id('later')}\n`);
    writeJourney('cap-a', `trigger:\n  event: Cap A ${run}\nwhenCapped: skip\nsteps:\n  - send: ${id('promo')}\n  - send: ${id('promo')}\n`);
    writeJourney('cap-b', `trigger:\n  event: Cap B ${run}\nwhenCapped: skip\nsteps:\n  - send: ${id('promo')}\n  - send: ${id('promo')}\n`);
    writeJourney('goal', `trigger:\n  event: Browsed ${run}\ngoal:\n  event: Order Completed ${run}\n  within: 1h\n  value: revenue\nsteps:\n  - send: ${id('goal-mail')}\n  - wait: 2s\n  - send: ${id('goal-mail')}\n`);
    writeJourney('merge', `trigger:\n  event: Joined ${run}\nreentry:\n  allow: once\nsteps:\n  - send: ${id('welcome')}\n  - wait: 3s\n  - send: ${id('welcome')}\n  - wait: 1s\n  - send: ${id('welcome')}\n`);
    writeJourney('quiet', `trigger:\n  event: Quiet ${run}\nsteps:\n  - send: ${id('promo')}\n`);
    writeJourney('split', `trigger:\n  event: Split ${run}\nreentry:\n  allow: always\n  activeInstances: unlimited\nsteps:\n  - split:\n      variants:\n        - name: a\n          weight: 1\n          steps:\n            - send: ${id('marker')}\n        - name: b\n          weight: 1\n          steps:\n            - send: ${id('marker')}\n`);
    // Variants without steps: an instance finishes when it converts, or when its 2 s goal window closes.
    const abVariant = (name: string) => `        - name: ${name}\n          weight: 1\n          steps: []\n`;
    writeJourney(
      'ab-winner',
      `trigger:\n  event: AB ${run}\nreentry:\n  allow: always\n  activeInstances: unlimited\ngoal:\n  event: AB Ordered ${run}\n  within: 2s\nsteps:\n  - split:\n      variants:\n${abVariant('a')}${abVariant('b')}      winner:\n        confidence: 0.95\n        minimumPerVariant: 20\n`,
    );
    writeJourney('timers', `trigger:\n  event: Timer Start ${run}\nreentry:\n  allow: always\nsteps:\n  - wait: 25s\n  - send: ${id('later')}\n`);
    // A birthday at a clock time in UTC+14 (no summer time there): the next whole minute at least 60 s ahead (the
    // update below must be produced before it). Its local date is often tomorrow's in UTC, and read in UTC the time
    // would be 14 hours off.
    const local = new Date(birthdayAt + 14 * 3_600_000);
    const two = (value: number) => String(value).padStart(2, '0');
    birthday = `1990-${two(local.getUTCMonth() + 1)}-${two(local.getUTCDate())}`;
    writeJourney('birthday', `trigger:\n  recurring:\n    date: birthday\n    every: year\n    at: "${two(local.getUTCHours())}:${two(local.getUTCMinutes())}"\nreentry:\n  allow: oncePer\n  period: 300d\nsteps:\n  - send: ${id('birthday')}\n`);
    const release = await publishFolder(kafka, folder, { user: 'triggers-int-spec', host: 'test', tool: 'jest' }, { write: true });
    expect(release.errors).toEqual([]);
    await producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    inputStart = (await admin.fetchTopicOffsets(Topics.profileUpdates.name)).map(({ partition, high }) => ({ partition, offset: high }));
    await admin.disconnect();

    reader = new BatchConsumer(kafka, {
      groupId: uniqueName('triggers-int-reader'),
      producer,
      subscriptions: [
        { topic: Topics.dispatchRequests.name, decoder: rawDecoder, handler: async (batch) => void requests.push(...batch.map((record) => JSON.parse(record.value?.toString() ?? 'null') as DispatchRequestRecord).filter((request) => request.origin?.journeyId.endsWith(run))) },
        { topic: Topics.journeyOutcomes.name, decoder: rawDecoder, handler: async (batch) => void outcomes.push(...batch.map((record) => JSON.parse(record.value?.toString() ?? 'null') as JourneyOutcomeRecord).filter((outcome) => outcome.journeyId.endsWith(run))) },
      ],
    });
    await reader.start();
    env = Object.fromEntries(
      Object.entries(await serviceTestEnv({ DATABASE_SCHEMA: `triggers_${run}`, KAFKA_GROUP_ID: `triggers-${run}`, TRIGGERS_QUIET_HOURS: quietWindow(), TRIGGERS_MARKETING_EMAIL_CAP: '3/1h' })).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
    await startService();
    // Produced now, so its timer is pending while the tests below run (and across the kill -9 of the last one).
    const identify: ProfileEvent = { type: 'identify', timestamp: new Date().toISOString(), messageId: `${run}-birthday`, traits: { birthday, email: `${birthdayProfile}@example.ch` }, context: { timezone: 'Pacific/Kiritimati' } };
    await produce(update(birthdayProfile, identify));
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await reader?.stop();
    await producer.disconnect();
    rmSync(folder, { recursive: true, force: true });
  });

  it('a welcome series: the first mail at once, then two more, each after its wait', async () => {
    const profileId = randomUUID();
    decided.push(profileId);
    const now = Date.now();
    await produce(update(profileId, event(`Signed Up ${run}`, now), consented(now)));
    const mails = await waitFor('three welcome mails', () => requestsOf(profileId).length >= 3 && requestsOf(profileId));
    expect(mails.map((request) => request.channel === 'email' && request.templateId)).toEqual([id('welcome'), id('welcome'), id('welcome')]);
    const times = mails.map((request) => Date.parse(request.requestedAt));
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(1_000);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(1_000);
    expect(new Set(mails.map((request) => request.dispatchId)).size).toBe(3);
    expect(mails[0]).toMatchObject({ purpose: 'marketing', reason: { consent: { status: 'confirmed', proof: expect.objectContaining({ event: 'Subscription Confirmed' }) } } });
    for (const outcome of outcomesOf(profileId)) expect(validator.validate(SchemaIds.journeyOutcome, outcome)).toMatchObject({ valid: true });
    // The metrics: the journey's outcomes, the waits fired by the wall clock with their lateness, the partitions live.
    const samples = await untilMetrics(`http://127.0.0.1:${healthPort}/metrics`, (exposed) => {
      expect(metricValue(exposed, 'kairos_journeys_outcomes_total', { journey: id('welcome'), kind: 'entered' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(exposed, 'kairos_journeys_outcomes_total', { journey: id('welcome'), kind: 'step-executed' })).toBeGreaterThanOrEqual(3);
    });
    expect(metricValue(samples, 'kairos_state_timers_fired_total', { store: 'journeys', by: 'clock' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(samples, 'kairos_state_timer_lateness_seconds_count', { store: 'journeys' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(samples, 'kairos_state_commit_duration_seconds_count', { store: 'journeys' })).toBeGreaterThanOrEqual(3);
    expect(metricValue(samples, 'kairos_state_partitions', { store: 'journeys', mode: 'live' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'kairos_state_partitions', { store: 'journeys', mode: 'replaying' })).toBe(0);
  });

  it('abandoned carts: a reminder with the cart products; none when the order follows, even in the same batch; two carts, two instances', async () => {
    const [left, ordered, two] = [randomUUID(), randomUUID(), randomUUID()];
    decided.push(left, ordered, two);
    const now = Date.now();
    const products = [{ sku: 'LAMP-1', name: 'Desk lamp', price: 89 }];
    const cart = (profileId: string, cartId: string, at: number) => update(profileId, event(`Cart Updated ${run}`, at, { cartId, products }), consented(now));
    const order = (profileId: string, cartId: string, at: number) => update(profileId, event(`Order Completed ${run}`, at, { cartId, revenue: 89 }), consented(now));
    // One send: the cart update and the order for the same cart land in one batch, back to back.
    await produce(cart(left, 'c1', now), cart(ordered, 'c2', now), order(ordered, 'c2', now + 1), cart(two, 'c3', now), cart(two, 'c4', now + 1));
    const reminder = await waitFor('the reminder', () => requestsOf(left)[0]);
    expect(reminder).toMatchObject({ channel: 'email', templateId: id('reminder'), context: { event: { properties: { cartId: 'c1', products } } } });
    expect(Date.parse(reminder.requestedAt)).toBeGreaterThanOrEqual(now + 2_000);
    const twoReminders = await waitFor('two reminders for two carts', () => requestsOf(two).length >= 2 && requestsOf(two));
    expect(twoReminders.map((request) => request.channel === 'email' && request.context.event?.properties?.cartId).sort()).toEqual(['c3', 'c4']);
    expect(new Set(twoReminders.map((request) => request.origin?.instanceId)).size).toBe(2);
    // The marker's event time is past the window: a pending absence of `ordered` would have fired before it.
    await marker(ordered, now + 3_000);
    expect(templatesOf(ordered)).toEqual([id('marker')]);
  });

  it('a threshold fires once per crossing: not on later updates above it, not on a replayed update', async () => {
    const profileId = randomUUID();
    decided.push(profileId);
    const now = Date.now();
    const segment = { [`big-spenders-${run}`]: { version: 1, since: now + 1 } };
    const below = update(profileId, event('Order Completed', now, { revenue: 3000 }), consented(now));
    const crossing = update(profileId, event('Order Completed', now + 1, { revenue: 2500 }), consented(now), segment);
    const above = update(profileId, event('Order Completed', now + 2, { revenue: 100 }), consented(now), segment);
    await produce(below, crossing, crossing, above);
    await produce(crossing);
    await marker(profileId, now + 3);
    expect(templatesOf(profileId)).toEqual([id('vip'), id('marker')]);
  });

  it("a segment's backfill starts no journey: members a newly published segment finds were not entering it", async () => {
    const [found, joined] = [randomUUID(), randomUUID()];
    decided.push(found, joined);
    const now = Date.now();
    const segment = `newsletter-${run}`;
    const entered = (profileId: string, cause: SegmentChangeRecord['cause']): SegmentChangeRecord => ({ changeId: `${profileId}/${segment}/1/enter/${now}`, profileId, segmentId: segment, version: 1, change: 'enter', at: new Date(now).toISOString(), cause });
    const live = update(joined, { type: 'identify', timestamp: new Date(now).toISOString(), messageId: `${run}-m${++sequence}`, traits: { newsletter: true } });
    const backfilled: ProfileUpdateRecord = { ...update(found, { type: 'identify', timestamp: new Date(now - 60_000).toISOString(), messageId: `${run}-m${++sequence}`, traits: { newsletter: true } }), updateId: `${found}/backfill/${segment}@1`, input: { kind: 'backfill', segmentId: segment, version: 1 } };
    const segments = { [segment]: { version: 1, since: now } };
    await produce({ ...backfilled, at: new Date(now).toISOString(), segments, changes: [entered(found, { kind: 'backfill' })] }, { ...live, segments, changes: [entered(joined, { kind: 'event', messageId: 'live' })] });
    await waitFor('the live entry', () => requestsOf(joined)[0]);
    await marker(found, now + 1);
    expect(templatesOf(found)).toEqual([id('marker')]);
    expect(templatesOf(joined)).toEqual([id('later')]);
  });

  it('no marketing mail without consent: each send is recorded as suppressed with the consent status', async () => {
    const profileId = randomUUID();
    decided.push(profileId);
    const now = Date.now();
    await produce(update(profileId, event(`Signed Up ${run}`, now)));
    const suppressed = await waitFor('three suppressed sends', () => outcomesOf(profileId, 'suppressed-by-consent').length >= 3 && outcomesOf(profileId, 'suppressed-by-consent'));
    expect(suppressed.map((outcome) => outcome.detail?.consent)).toEqual(['unknown', 'unknown', 'unknown']);
    await marker(profileId, now + 3_000);
    expect(templatesOf(profileId)).toEqual([id('marker')]);
  });

  it('the frequency cap holds across two journeys: the fourth marketing mail within the hour is skipped', async () => {
    const profileId = randomUUID();
    decided.push(profileId);
    const now = Date.now();
    await produce(update(profileId, event(`Cap A ${run}`, now), consented(now)), update(profileId, event(`Cap B ${run}`, now + 1), consented(now)));
    const capped = await waitFor('a capped send', () => outcomesOf(profileId, 'capped')[0]);
    expect(capped).toMatchObject({ journeyId: id('cap-b'), stepId: '1', detail: { rule: 'email marketing: at most 3 per 1h', action: 'skipped' } });
    await marker(profileId, now + 2);
    expect(templatesOf(profileId)).toEqual([id('promo'), id('promo'), id('promo'), id('marker')]);
  });

  it('a goal cancels pending sends and records the conversion with its value', async () => {
    const profileId = randomUUID();
    decided.push(profileId);
    const now = Date.now();
    await produce(update(profileId, event(`Browsed ${run}`, now), consented(now)));
    await waitFor('the first goal mail', () => requestsOf(profileId)[0]);
    await produce(update(profileId, event(`Order Completed ${run}`, Date.now(), { revenue: 120, currency: 'CHF' }), consented(now)));
    const goal = await waitFor('the goal', () => outcomesOf(profileId, 'goal-reached')[0]);
    expect(goal).toMatchObject({ journeyId: id('goal'), stepId: '0', detail: { value: 120, currency: 'CHF', attributedStepId: '0' } });
    await marker(profileId, now + 3_000);
    expect(templatesOf(profileId)).toEqual([id('goal-mail'), id('marker')]);
  });

  /**
   * The two updates segmentation emits for a merge: the loser's last (no state, survivorId says where it went), then
   * the survivor's with the loser folded in. Stamped when produced, as segmentation stamps them: live and replay then
   * see the merge at the same moment relative to the waits.
   */
  function mergeUpdates(loser: string, survivor: string, history: ProfileEvent[]): ProfileUpdateRecord[] {
    const at = new Date().toISOString();
    return [
      { updateId: `${loser}/merge/${loser}`, profileId: loser, at, input: { kind: 'merge', loserId: loser, survivorId: survivor }, segments: {}, changes: [] },
      { ...update(survivor, event('Merged', Date.parse(at)), history), updateId: `${survivor}/merge/${loser}`, input: { kind: 'merge', loserId: loser } },
    ];
  }

  /** A survivor whose id hashes to the loser's partition (the harness creates two), or to the other one. */
  function survivorFor(loser: string, samePartition: boolean): string {
    for (;;) {
      const survivor = randomUUID();
      if ((keyPartition(survivor, 2) === keyPartition(loser, 2)) === samePartition) return survivor;
    }
  }

  it.each([
    ['on the same partition (folded at once)', true],
    ['on another partition (handed over on the transfers topic)', false],
  ])('a merge moves the running instance to the survivor %s: the rest of the welcome series goes to the merged profile', async (_, samePartition) => {
    const loser = randomUUID();
    const survivor = survivorFor(loser, samePartition);
    decided.push(loser, survivor);
    const now = Date.now();
    await produce(update(loser, event(`Joined ${run}`, now), consented(now)));
    const first = await waitFor('the first welcome mail', () => requestsOf(loser)[0]);
    await produce(...mergeUpdates(loser, survivor, consented(now)));
    const rest = await waitFor('two more welcome mails for the survivor', () => requestsOf(survivor).length >= 2 && requestsOf(survivor));
    expect(rest.map((request) => request.origin?.instanceId)).toEqual([first.origin?.instanceId, first.origin?.instanceId]);
    // The survivor signing up too does not start a second welcome series (entered once, as one profile).
    await produce(update(survivor, event(`Joined ${run}`, Date.now()), consented(now)));
    await marker(survivor);
    expect(templatesOf(survivor)).toEqual([id('welcome'), id('welcome'), id('marker')]);
    expect(templatesOf(loser)).toEqual([id('welcome')]);
  });

  it('a cart left under a profile merged away on another partition is reminded to the survivor, with its products; not when the survivor orders it right after the merge', async () => {
    const [loser, orderingLoser] = [randomUUID(), randomUUID()];
    const [survivor, ordering] = [survivorFor(loser, false), survivorFor(orderingLoser, false)];
    decided.push(survivor, ordering); // the replay must decide for them as the live run did (the losers decide nothing)
    const now = Date.now();
    const products = [{ sku: 'TENT-2', name: 'Zelt', price: 349 }];
    const cart = (profileId: string, cartId: string) => update(profileId, event(`Cart Updated ${run}`, now, { cartId, products }), consented(now));
    // The order follows the merge at once, in the same send: the survivor's writer meets it before the hand-over from
    // the other partition can have arrived, and holds it until then.
    const order = update(ordering, event(`Order Completed ${run}`, now + 1, { cartId: 'c-ordered', revenue: 349 }), consented(now));
    await produce(cart(loser, 'c-merged'), ...mergeUpdates(loser, survivor, consented(now)), cart(orderingLoser, 'c-ordered'), ...mergeUpdates(orderingLoser, ordering, consented(now)), order);
    const reminder = await waitFor('the reminder to the survivor', () => requestsOf(survivor)[0]);
    expect(reminder).toMatchObject({ channel: 'email', templateId: id('reminder'), context: { event: { properties: { cartId: 'c-merged', products } } } });
    // Markers on both partitions, stamped after the deadline: a timer due by then would have fired before them.
    await marker(ordering, now + 3_000);
    await marker(survivorFor(loser, true), now + 3_000);
    // Nothing for the losers (before, a loser's pending absence stayed and fired under its own id, where an order
    // placed as the survivor could never cancel it), and nothing for the cart ordered right after the merge.
    expect(templatesOf(loser)).toEqual([]);
    expect(templatesOf(orderingLoser)).toEqual([]);
    expect(templatesOf(ordering)).toEqual([id('marker')]);
  });

  it('a kill -9 after the hand-over is published and before the loser\'s state is committed: the hand-over goes out again and the survivor is reminded once', async () => {
    // Restarted with the crash point armed: the first commit whose acknowledged outputs include a hand-over kills the
    // process (SIGKILL, from inside, at exactly that line) — once.
    const once = join(folder, 'crashed-once');
    await service?.stop();
    const armed = { ...env, KAIROS_CRASH_BEFORE_COMMIT: Topics.journeysTransfers.name, KAIROS_CRASH_ONCE_FILE: once };
    healthPort = await freePort();
    service = await startServiceProcess('triggers', armed, healthPort);
    const crashed = new Promise<NodeJS.Signals | null>((resolve) => service!.child.once('exit', (_code, signal) => resolve(signal)));

    const loser = randomUUID();
    const survivor = survivorFor(loser, false);
    const now = Date.now();
    const products = [{ sku: 'PACK-40', name: 'Rucksack', price: 189 }];
    await produce(update(loser, event(`Cart Updated ${run}`, now, { cartId: 'c-crash', products }), consented(now)), ...mergeUpdates(loser, survivor, consented(now)));
    expect(await crashed).toBe('SIGKILL');
    expect(existsSync(once)).toBe(true);

    await startService(); // unarmed: the redelivered batch hands the journeys over again
    const reminder = await waitFor('the reminder to the survivor', () => requestsOf(survivor)[0]);
    expect(reminder).toMatchObject({ channel: 'email', templateId: id('reminder'), context: { event: { properties: { cartId: 'c-crash', products } } } });
    await marker(survivor, now + 3_000);
    expect(templatesOf(survivor)).toEqual([id('reminder'), id('marker')]);
    expect(templatesOf(loser)).toEqual([]);
    // Two copies of the hand-over, one before the crash and one from the redelivery, with one id: folded once.
    const handOvers = await readTopic(kafkaBrokers, Topics.journeysTransfers.name, 2, 30_000, (record) => (JSON.parse(record.value?.toString() ?? '{}') as JourneysTransferRecord).loserId === loser);
    expect(handOvers.map((record) => (JSON.parse(record.value!.toString()) as JourneysTransferRecord).transferId)).toEqual([`journeys/${loser}`, `journeys/${loser}`]);
  }, 120_000);

  it('quiet hours in the profile time zone defer a marketing send to their end', async () => {
    const profileId = randomUUID();
    decided.push(profileId);
    const now = Date.now();
    const input = { ...event(`Quiet ${run}`, now), context: { timezone: 'Etc/GMT-12' } };
    await produce(update(profileId, input, consented(now)));
    const deferred = await waitFor('the deferral', () => outcomesOf(profileId, 'deferred')[0]);
    // The window ends at (hour + 14):00 local time in UTC+12, that is (hour + 2):00 UTC: the next such instant.
    const end = new Date(now);
    end.setUTCHours((quietFromHour + 2) % 24, 0, 0, 0);
    if (end.getTime() <= now) end.setUTCDate(end.getUTCDate() + 1);
    expect(deferred).toMatchObject({ journeyId: id('quiet'), stepId: '0', detail: { reason: 'quiet hours', timeZone: 'Etc/GMT-12', until: end.toISOString() } });
    await marker(profileId, now + 1);
    expect(templatesOf(profileId)).toEqual([id('marker')]);
  });

  it('an A/B split is stable per profile: every entry of a profile lands in the same variant', async () => {
    const profiles: string[] = Array.from({ length: 40 }, () => randomUUID());
    const now = Date.now();
    await produce(...profiles.flatMap((profileId) => [update(profileId, event(`Split ${run}`, now)), update(profileId, event(`Split ${run}`, now + 1))]));
    const splits = await waitFor('80 split decisions', () => {
      const found = outcomes.filter((outcome) => outcome.journeyId === id('split') && outcome.kind === 'step-executed' && typeof outcome.detail?.split === 'string');
      return found.length >= 80 && found;
    });
    const variants = new Map<string, Set<unknown>>();
    for (const outcome of splits) variants.set(outcome.profileId, (variants.get(outcome.profileId) ?? new Set()).add(outcome.detail?.split));
    expect(variants.size).toBe(40);
    expect([...variants.values()].every((names) => names.size === 1)).toBe(true);
    expect(new Set([...variants.values()].flatMap((names) => [...names]))).toEqual(new Set(['a', 'b']));
  });

  it("an automatic A/B winner: tested once every variant has its finished sample; entries from its effective time on get it", async () => {
    const journeyId = id('ab-winner');
    const variantOf = (profileId: string) => splitPick(journeyId, '0', profileId, [{ name: 'a', weight: 1, first: '' }, { name: 'b', weight: 1, first: '' }], 0).name;
    const profiles = Array.from({ length: 80 }, () => randomUUID());
    const now = Date.now();
    // Everyone who lands in a orders; in b nobody does, and their goal windows close 2 s later.
    await produce(
      ...profiles.flatMap((profileId) => {
        const entry = event(`AB ${run}`, now);
        return variantOf(profileId) === 'a' ? [update(profileId, entry), update(profileId, event(`AB Ordered ${run}`, now + 1), [entry])] : [update(profileId, entry)];
      }),
    );
    const [record] = await readTopic(kafkaBrokers, Topics.splitWinners.name, 1, 60_000, (candidate) => candidate.key?.toString() === `${journeyId}@1/0`);
    const winner = JSON.parse(record?.value?.toString() ?? 'null') as SplitWinnerRecord;
    expect(validator.validate(SchemaIds.splitWinner, winner)).toMatchObject({ valid: true });
    expect(winner).toMatchObject({ journeyId, journeyVersion: 1, stepId: '0', outcome: 'winner', variant: 'a' });
    // Tested when both had 20 finished (the decider may look while more are still finishing).
    const { a, b } = winner.tally;
    expect([a.conversions, b.conversions]).toEqual([a.recipients, 0]);
    expect(Math.min(a.recipients, b.recipients)).toBeGreaterThanOrEqual(20);
    expect(Date.parse(winner.effectiveAt) - Date.parse(winner.decidedAt)).toBe(24 * 3_600_000 + 5 * 60_000);
    // Two newcomers the weights would put in b: entering just before the decision takes effect, b; at it, a.
    const [early, late] = Array.from({ length: 40 }, () => randomUUID()).filter((profileId) => variantOf(profileId) === 'b');
    const effectiveAt = Date.parse(winner.effectiveAt);
    await produce(update(early, event(`AB ${run}`, effectiveAt - 1)), update(late, event(`AB ${run}`, effectiveAt)));
    const splitOf = (profileId: string) => outcomesOf(profileId, 'step-executed').find((outcome) => outcome.stepId === '0')?.detail;
    expect(await waitFor('the early newcomer in the split', () => splitOf(early))).toEqual({ split: 'b' });
    expect(await waitFor('the late newcomer in the split', () => splitOf(late))).toEqual({ split: 'a', winner: true });
  });

  it('a birthday comes at its clock time in the profile time zone (UTC+14), from a durable timer, once', async () => {
    const [request] = await waitFor('the birthday mail', () => requestsOf(birthdayProfile).length > 0 && requestsOf(birthdayProfile), 240_000);
    expect(request).toMatchObject({ templateId: id('birthday'), context: { event: { name: 'birthday occurrence', properties: { birthday } }, timeZone: 'Pacific/Kiritimati' } });
    expect(Date.parse(request.requestedAt)).toBeGreaterThanOrEqual(birthdayAt);
    // A later update of the profile does not bring this year's occurrence back; the next is a year away.
    await marker(birthdayProfile);
    expect(templatesOf(birthdayProfile)).toEqual([id('birthday'), id('marker')]);
  }, 300_000);

  it('a replay of the input stream into empty stores makes the same decisions, with the same ids', async () => {
    const live = new Map(decided.map((profileId) => [profileId, new Set(requestsOf(profileId).map((request) => request.dispatchId))]));
    const liveOutcomes = new Set(decided.flatMap((profileId) => outcomesOf(profileId).map((outcome) => outcome.outcomeId)));
    expect([...live.values()].every((ids) => ids.size > 0)).toBe(true);
    const replayPort = await freePort();
    // A fresh consumer group reads this run's input from its first record into a fresh schema: empty stores.
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: `triggers-replay-${run}`, topic: Topics.profileUpdates.name, partitions: inputStart });
    await admin.disconnect();
    const replay = await startServiceProcess('triggers', { ...env, DATABASE_SCHEMA: `triggers_replay_${run}`, KAFKA_GROUP_ID: `triggers-replay-${run}`, TRIGGERS_DECIDE_SPLITS: 'false' }, replayPort, 'the replaying triggers service');
    try {
      const short = () => decided.filter((profileId) => requestsOf(profileId).length < 2 * (live.get(profileId)?.size ?? 0));
      await waitFor('every live dispatch published again', () => short().length === 0, 60_000).catch((error: Error) => {
        throw new Error(`${error.message}; still short: ${short().map((profileId) => `${profileId} ${JSON.stringify(requestsOf(profileId).map((request) => [request.origin?.journeyId, request.dispatchId]))} of ${JSON.stringify([...(live.get(profileId) ?? [])])}`).join('; ')}`);
      });
    } finally {
      await replay.stop();
    }
    for (const profileId of decided) {
      const ids = requestsOf(profileId).map((request) => request.dispatchId);
      // The same ids, each now twice (live and replay), and none the live run did not make.
      expect(new Set(ids)).toEqual(live.get(profileId));
      expect(ids.length).toBe(2 * (live.get(profileId)?.size ?? 0));
    }
    const replayedOutcomes = decided.flatMap((profileId) => outcomesOf(profileId).map((outcome) => outcome.outcomeId));
    expect(replayedOutcomes.filter((outcomeId) => !liveOutcomes.has(outcomeId))).toEqual([]);
  }, 120_000);

  it('a kill -9 and restart while 10,000 timers are pending loses none and fires none twice', async () => {
    const count = 10_000;
    const profiles: string[] = Array.from({ length: count }, () => randomUUID());
    const now = Date.now();
    for (let start = 0; start < count; start += 1_000) {
      await produce(...profiles.slice(start, start + 1_000).map((profileId) => update(profileId, event(`Timer Start ${run}`, now), consented(now))));
    }
    const waiting = new Set(profiles);
    await waitFor('10,000 instances waiting', () => outcomes.filter((outcome) => outcome.kind === 'waiting' && waiting.has(outcome.profileId)).length >= count, 90_000);
    // Killed while every timer is pending (all are due 25 s after `now`): they are rows of the store, not of the process.
    await service?.kill();
    expect(Date.now()).toBeLessThan(now + 25_000);
    expect(requests.filter((request) => waiting.has(request.profileId))).toEqual([]);
    await startService();
    const fired = await waitFor('10,000 timers fired', () => {
      const mails = requests.filter((request) => waiting.has(request.profileId));
      return mails.length >= count && mails;
    }, 90_000);
    const byProfile = new Map<string, Set<string>>();
    for (const request of fired) byProfile.set(request.profileId, (byProfile.get(request.profileId) ?? new Set()).add(request.dispatchId));
    expect(byProfile.size).toBe(count);
    expect([...byProfile.values()].every((ids) => ids.size === 1)).toBe(true);
    // None before its due time.
    expect(fired.every((request) => Date.parse(request.requestedAt) >= now + 25_000)).toBe(true);
  }, 200_000);
});
