/**
 * The JSON Schemas of the definition files, written once here and published as plain JSON in
 * definitions/schemas/ (`npm run definitions:schemas` writes them; a unit test checks they are current), so editors
 * complete and check the files and the validator checks exactly what the editor does. Each published file is
 * self-contained — the shared parts (durations, conditions, property filters) are copied into each — because editors
 * resolve references between files less reliably than within one.
 *
 * `x-expected` is an annotation of ours (ajv is told it exists; editors ignore it): what a union expects, said once
 * instead of one complaint per alternative.
 */

type Schema = Record<string, unknown>;

const SCHEMA_BASE = 'https://kairos.dev/schemas/definitions';
const DRAFT = 'http://json-schema.org/draft-07/schema#';

export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d|w))+$';

const id = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', description: 'Lower-case letters, digits and dashes; unique per kind.' };
const duration = {
  type: 'string',
  pattern: DURATION_PATTERN,
  description: 'A number and a unit — ms, s, m, h, d, w — or several of them: 30m, 24h, 14d, 90d, 1d12h.',
  'x-duration': true,
};
const scalar = { type: ['string', 'number', 'boolean'] };

/** One comparison on a value (a trait, an event property): exactly one operator. */
const OPERATORS: Record<string, Schema> = {
  equals: { ...scalar, description: 'Equal to' },
  notEquals: { ...scalar, description: 'Not equal to' },
  lessThan: { type: ['number', 'string'], description: 'Less than (numbers, or ISO dates)' },
  atMost: { type: ['number', 'string'], description: 'Less than or equal to' },
  greaterThan: { type: ['number', 'string'], description: 'Greater than' },
  atLeast: { type: ['number', 'string'], description: 'Greater than or equal to' },
  in: { type: 'array', items: scalar, minItems: 1, description: 'One of these values' },
  contains: { type: 'string', description: 'A text containing this, or a list containing this element' },
  startsWith: { type: 'string', description: 'A text starting with this' },
  exists: { type: 'boolean', description: 'true: has a value; false: has none' },
  before: { type: 'string', format: 'date', description: 'A date before this day (YYYY-MM-DD)' },
  after: { type: 'string', format: 'date', description: 'A date after this day (YYYY-MM-DD)' },
  withinLast: { ...duration, description: 'A date within this duration before now, e.g. 14d' },
  moreThanAgo: { ...duration, description: 'A date longer ago than this duration, e.g. 14d' },
  withinNext: { ...duration, description: 'A date from now to this duration ahead, e.g. 30d (a contract ending within the next 30 days)' },
  moreThanAhead: { ...duration, description: 'A date further ahead than this duration, e.g. 30d' },
};
const operatorNames = Object.keys(OPERATORS);

function comparison(subject: string, subjectSchema: Schema, extra: Record<string, Schema> = {}): Schema {
  return {
    type: 'object',
    properties: { [subject]: subjectSchema, ...OPERATORS, ...extra },
    required: [subject],
    additionalProperties: false,
    // Exactly one: with two (atLeast: 18, atMost: 65) the rule would silently keep one of them; a range is an all.
    oneOf: operatorNames.map((name) => ({ required: [name] })),
    'x-expected': `${subject} and one operator (two conditions make a range under all): ${operatorNames.join(', ')}`,
  };
}

/** Unions keyed by the one property that says what an object is (trait, performed, send, wait, …). */
function keyedUnion(description: string, alternatives: Record<string, Schema>, note = ''): Schema {
  const keys = Object.keys(alternatives);
  return {
    type: 'object',
    description,
    'x-expected': `one of: ${keys.join(', ')}${note}`,
    anyOf: keys.map((key) => ({ required: [key] })),
    allOf: keys.map((key) => ({ if: { required: [key] }, then: alternatives[key] })),
  };
}

const propertyFilter = comparison('property', { type: 'string', description: 'An event property, dotted for nested ones: products.0.sku' });
const where = { type: 'array', items: { $ref: '#/$defs/propertyFilter' }, description: 'All of these must hold for the event' };
const counts = {
  atLeast: { type: 'integer', minimum: 0 },
  atMost: { type: 'integer', minimum: 0 },
  exactly: { type: 'integer', minimum: 0 },
};
const window = {
  within: { ...duration, description: 'Only the last … (a sliding window), e.g. 90d' },
  between: { type: 'array', items: { type: 'string', format: 'date' }, minItems: 2, maxItems: 2, description: '[from, to] dates' },
};

const aggregate = {
  type: 'object',
  description: 'A value computed over a profile\'s events: count, sum, min, max, first or last of a property.',
  properties: {
    count: { type: 'string', description: 'Count this event' },
    sum: { type: 'string', description: 'Sum this property…' },
    min: { type: 'string' },
    max: { type: 'string' },
    first: { type: 'string' },
    last: { type: 'string' },
    of: { type: 'string', description: '…of this event' },
    where,
    ...window,
  },
  additionalProperties: false,
  'x-expected': 'one of count, sum, min, max, first, last (with "of" naming the event for all but count)',
  anyOf: ['count', 'sum', 'min', 'max', 'first', 'last'].map((fn) => ({ required: [fn] })),
};

const CONDITIONS: Record<string, Schema> = {
  trait: comparison('trait', { type: 'string', description: 'A profile trait: firstName, plan, signedUpAt, address.country' }),
  performed: {
    type: 'object',
    properties: { performed: { type: 'string', description: 'Event name, e.g. Order Completed' }, where, ...counts, ...window },
    required: ['performed'],
    additionalProperties: false,
    description: 'Performed the event (at least once unless a count is given)',
  },
  notPerformed: {
    type: 'object',
    properties: { notPerformed: { type: 'string' }, where, ...window },
    required: ['notPerformed'],
    additionalProperties: false,
    description: 'Has not performed the event (within the window, if given)',
  },
  aggregate: comparison('aggregate', aggregate),
  score: comparison('score', {
    type: 'object',
    description: 'A weighted score: points per event, optionally decaying (lead scoring)',
    properties: {
      points: { type: 'object', additionalProperties: { type: 'number' }, description: 'Event name: points' },
      halfLife: { ...duration, description: 'Points halve after this long' },
    },
    required: ['points'],
    additionalProperties: false,
  }),
  lifecycle: {
    type: 'object',
    properties: { lifecycle: { type: 'array', items: { enum: ['new', 'active', 'at-risk', 'lapsed', 'customer', 'repeat-customer'] }, minItems: 1 } },
    required: ['lifecycle'],
    additionalProperties: false,
    description: 'In one of these lifecycle stages',
  },
  engagement: {
    type: 'object',
    properties: { engagement: { type: 'array', items: { enum: ['high', 'moderate', 'passive'] }, minItems: 1 } },
    required: ['engagement'],
    additionalProperties: false,
  },
  consent: {
    type: 'object',
    properties: {
      consent: {
        type: 'object',
        properties: {
          channel: { enum: ['email'] },
          purpose: { enum: ['marketing', 'transactional'] },
          status: { enum: ['granted', 'pending', 'withdrawn'], description: 'granted unless said otherwise' },
        },
        required: ['channel', 'purpose'],
        additionalProperties: false,
      },
    },
    required: ['consent'],
    additionalProperties: false,
  },
  inSegment: {
    type: 'object',
    properties: { inSegment: { ...id, description: 'A segment id: the profile is a member of it' } },
    required: ['inSegment'],
    additionalProperties: false,
  },
  all: { type: 'object', properties: { all: { type: 'array', items: { $ref: '#/$defs/condition' }, minItems: 1 } }, required: ['all'], additionalProperties: false },
  any: { type: 'object', properties: { any: { type: 'array', items: { $ref: '#/$defs/condition' }, minItems: 1 } }, required: ['any'], additionalProperties: false },
  not: { type: 'object', properties: { not: { $ref: '#/$defs/condition' } }, required: ['not'], additionalProperties: false },
};

const commonDefs = {
  duration,
  propertyFilter,
  condition: keyedUnion(
    'A rule over a profile: trait, performed, notPerformed, aggregate, score, lifecycle, engagement, consent, inSegment; combined with all, any, not.',
    CONDITIONS,
    " (eventProperty is for a journey's conditions: a segment has no triggering event)",
  ),
};

/** A journey's conditions may also read the event that triggered it (a segment has none). */
const JOURNEY_CONDITIONS: Record<string, Schema> = {
  ...CONDITIONS,
  eventProperty: comparison('eventProperty', { type: 'string', description: "A property of the journey's triggering event, dotted for nested ones: total, products.0.sku" }),
};
const journeyDefs = {
  ...commonDefs,
  condition: keyedUnion(
    "A rule over a profile — trait, performed, notPerformed, aggregate, score, lifecycle, engagement, consent, inSegment — or over the journey's triggering event (eventProperty); combined with all, any, not.",
    JOURNEY_CONDITIONS,
  ),
};

function document(kind: string, title: string, properties: Record<string, unknown>, required: string[], defs: Record<string, unknown>): Schema {
  return {
    $schema: DRAFT,
    $id: `${SCHEMA_BASE}/${kind}.schema.json`,
    title,
    type: 'object',
    properties: {
      kind: { const: kind },
      id,
      name: { type: 'string', description: 'What people call it' },
      description: { type: 'string' },
      ...properties,
    },
    required: ['kind', 'id', ...required],
    additionalProperties: false,
    $defs: defs,
  };
}

export const segmentSchema = document(
  'segment',
  'Kairos segment',
  { rule: { $ref: '#/$defs/condition', description: 'Who is in the segment' } },
  ['rule'],
  commonDefs,
);

const eventStart = {
  event: { type: 'string', description: 'Starts on this event, e.g. Signed Up, Order Completed' },
  where,
  unlessFollowedBy: {
    type: 'object',
    description: 'Absence: starts only if this event does not follow, with the same match key, within the time (abandoned cart)',
    properties: { event: { type: 'string' }, match: { type: 'string', description: 'The property both events share, e.g. cartId' }, within: duration },
    required: ['event', 'within'],
    additionalProperties: false,
  },
};
const condition = { $ref: '#/$defs/condition' };
const onlyIf = { ...condition, description: 'Starts only for profiles that meet this (a segment, consent, …) at that moment' };

const TRIGGERS: Record<string, Schema> = {
  event: { type: 'object', properties: { ...eventStart, onlyIf }, required: ['event'], additionalProperties: false, description: 'Transactional or behavioural: an event' },
  segment: {
    type: 'object',
    properties: {
      segment: id,
      on: { enum: ['enter', 'exit'], description: 'enter unless said otherwise' },
      includeBackfill: {
        type: 'boolean',
        description: 'Also when publishing a new or changed segment moves a stored profile in (or out); false unless said otherwise: only the profile\'s own activity and time count',
      },
      onlyIf,
    },
    required: ['segment'],
    additionalProperties: false,
    description: 'Behavioural: entering (or leaving) a segment',
  },
  inactiveFor: { type: 'object', properties: { inactiveFor: duration, onlyIf }, required: ['inactiveFor'], additionalProperties: false, description: 'Behavioural: no activity for this long' },
  recurring: {
    type: 'object',
    properties: {
      recurring: {
        type: 'object',
        properties: {
          date: { type: 'string', description: 'A date trait: birthday, signedUpAt, contractEnd' },
          every: { enum: ['year', 'month'] },
          offset: { type: 'string', pattern: '^[-+]?([0-9]+(m|h|d|w))+$', description: 'Before (-30d) or after (+1d) the date' },
          at: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Local time of day in the profile\'s time zone, HH:MM' },
        },
        required: ['date', 'every'],
        additionalProperties: false,
      },
      onlyIf,
    },
    required: ['recurring'],
    additionalProperties: false,
    description: 'Recurring: a date of the profile, yearly or monthly (29 February falls back to 28 February)',
  },
  threshold: {
    type: 'object',
    properties: { threshold: { ...condition, description: 'Fires once each time this becomes true (a crossing), e.g. an aggregate atLeast 5000' }, onlyIf },
    required: ['threshold'],
    additionalProperties: false,
    description: 'Threshold: a value crosses a line',
  },
};

const steps = { type: 'array', items: { $ref: '#/$defs/step' }, description: 'Steps, run in order' };
const label = { label: { type: 'string', description: 'A name for this step in reports' } };

const STEPS: Record<string, Schema> = {
  send: {
    type: 'object',
    properties: { send: { ...id, description: 'The template to send' }, ...label },
    required: ['send'],
    additionalProperties: false,
  },
  wait: {
    type: 'object',
    properties: {
      wait: {
        description: 'A duration (24h), or until a local time or a date',
        anyOf: [
          duration,
          {
            type: 'object',
            properties: {
              untilTime: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Next time of day in the profile\'s time zone' },
              untilDate: { type: 'string', description: 'A date trait or event property' },
              offset: { type: 'string', pattern: '^[-+]?([0-9]+(m|h|d|w))+$' },
            },
            additionalProperties: false,
            minProperties: 1,
          },
        ],
      },
      ...label,
    },
    required: ['wait'],
    additionalProperties: false,
  },
  waitForEvent: {
    type: 'object',
    properties: {
      waitForEvent: {
        type: 'object',
        properties: {
          event: { type: 'string' },
          match: { type: 'string', description: 'The property the awaited event shares with the triggering one, e.g. cartId' },
          where,
          timeout: duration,
          onEvent: { ...steps, description: 'Steps when the event arrives in time (none: the journey ends)' },
          onTimeout: { ...steps, description: 'Steps when the timeout passes first' },
        },
        required: ['event', 'timeout'],
        additionalProperties: false,
      },
      ...label,
    },
    required: ['waitForEvent'],
    additionalProperties: false,
  },
  branch: {
    type: 'object',
    properties: {
      branch: {
        type: 'object',
        properties: { if: condition, then: steps, else: steps },
        required: ['if', 'then'],
        additionalProperties: false,
      },
      ...label,
    },
    required: ['branch'],
    additionalProperties: false,
  },
  split: {
    type: 'object',
    properties: {
      split: {
        type: 'object',
        description: 'A/B/n test, deterministic per profile',
        properties: {
          variants: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              properties: { name: { type: 'string' }, weight: { type: 'number', exclusiveMinimum: 0 }, steps },
              required: ['name', 'weight', 'steps'],
              additionalProperties: false,
            },
          },
          control: { type: 'number', minimum: 0, description: 'Weight of a control group that gets nothing' },
          winner: {
            type: 'object',
            description: 'Send everyone the leading variant once it is ahead on the goal',
            properties: { confidence: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, minimumPerVariant: { type: 'integer', minimum: 1 } },
            required: ['confidence', 'minimumPerVariant'],
            additionalProperties: false,
          },
        },
        required: ['variants'],
        additionalProperties: false,
      },
      ...label,
    },
    required: ['split'],
    additionalProperties: false,
  },
  updateProfile: {
    type: 'object',
    properties: {
      updateProfile: {
        type: 'object',
        properties: { set: { type: 'object', minProperties: 1, description: 'Trait: value (Handlebars allowed in text)' } },
        required: ['set'],
        additionalProperties: false,
      },
      ...label,
    },
    required: ['updateProfile'],
    additionalProperties: false,
  },
  webhook: {
    type: 'object',
    properties: {
      webhook: {
        type: 'object',
        properties: {
          url: { type: 'string', format: 'uri' },
          secret: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$', description: "Dispatch's environment variable holding the signing secret (a name ending in _WEBHOOK_SECRET, at least 32 bytes), e.g. VIP_WEBHOOK_SECRET; not set there: WEBHOOK_SECRET signs" },
        },
        required: ['url', 'secret'],
        additionalProperties: false,
      },
      ...label,
    },
    required: ['webhook'],
    additionalProperties: false,
  },
  exit: { type: 'object', properties: { exit: { type: 'string', description: 'Why the journey ends here' }, ...label }, required: ['exit'], additionalProperties: false },
};

// The address and domain rules of dispatch-core's mail headers (mail-headers.ts), so that what publishes is what
// dispatch can send: libs/dispatch-core/src/sender-formats.spec.ts holds the two to the same answers.
const ADDRESS_ATOM = '[^\\s\\u0000-\\u001f\\u007f@<>()[\\]\\\\,;:"]+';
const ADDRESS = `${ADDRESS_ATOM}@${ADDRESS_ATOM}\\.${ADDRESS_ATOM}`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';

/** A mailbox as a From or Reply-To takes it: an address, or a display name with the address in angle brackets. */
export const MAILBOX_PATTERN = `^\\s*(?:(?:"[^"]*"|[^<"]*?)\\s*<${ADDRESS}>|${ADDRESS})\\s*$`;
export const DOMAIN_PATTERN = `^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})+$`;

const mailbox = {
  type: 'string',
  maxLength: 320,
  pattern: MAILBOX_PATTERN,
  'x-expected': 'an address (hello@shop.example) or a name with one ("Shop <hello@shop.example>")',
};

const sendingDomain = {
  type: 'string',
  pattern: DOMAIN_PATTERN,
  description: 'Domain of the Message-ID (<dispatch id@domain>); DISPATCH_SENDING_DOMAIN otherwise',
  'x-expected': 'a domain name, e.g. mail.shop.example',
};

export const journeySchema = document(
  'journey',
  'Kairos journey',
  {
    trigger: { $ref: '#/$defs/trigger' },
    reentry: {
      type: 'object',
      description: 'Who may enter again: once ever, once per period, or every time',
      properties: {
        allow: { enum: ['once', 'oncePer', 'always'] },
        period: { ...duration, description: 'With oncePer' },
        activeInstances: { enum: ['onePerProfile', 'onePerKey', 'unlimited'], description: 'onePerProfile unless said otherwise' },
        key: { type: 'string', description: 'With onePerKey: the event property, e.g. cartId' },
      },
      required: ['allow'],
      additionalProperties: false,
    },
    whenCapped: { enum: ['skip', 'defer'], description: 'What a send the frequency cap holds back does: skip it (Braze, Klaviyo) or defer it (Customer.io)' },
    goal: {
      type: 'object',
      description: 'Reaching it ends the journey and records a conversion',
      properties: { event: { type: 'string' }, where, within: duration, value: { type: 'string', description: 'The event property with the conversion value' } },
      required: ['event', 'within'],
      additionalProperties: false,
    },
    exitWhen: { ...condition, description: 'Ends the journey as soon as this holds' },
    sender: {
      type: 'object',
      description: "Overrides the templates' sender for this journey's mail, field by field",
      properties: { from: { ...mailbox, description: 'From' }, replyTo: { ...mailbox, description: 'Reply-To' }, sendingDomain },
      additionalProperties: false,
    },
    steps: { ...steps, minItems: 1 },
  },
  ['trigger', 'steps'],
  { ...journeyDefs, trigger: keyedUnion('How a profile enters: event, segment, inactiveFor, recurring or threshold', TRIGGERS), step: keyedUnion('A step', STEPS) },
);

const contextType: Schema = {
  description: 'A name the template may use: a type (string, number, boolean, date, any), an object of names, or a list of one object',
  anyOf: [
    { enum: ['string', 'number', 'boolean', 'date', 'any'] },
    { type: 'object', additionalProperties: { $ref: '#/$defs/contextType' } },
    { type: 'array', items: { $ref: '#/$defs/contextType' }, minItems: 1, maxItems: 1 },
  ],
  'x-expected': 'string, number, boolean, date or any; an object of names; or a list of one element',
};

export const templateSchema = document(
  'template',
  'Kairos template (subject.hbs and html.hbs or html.mjml, optionally text.hbs, sit beside this file)',
  {
    channel: { enum: ['email'] },
    purpose: { enum: ['marketing', 'transactional'], description: 'Marketing needs consent and counts towards the frequency cap' },
    from: { ...mailbox, description: 'Sender, e.g. "Shop <hello@shop.example>"; the dispatch default otherwise' },
    replyTo: { ...mailbox, description: 'Reply-To, e.g. "Service <service@shop.example>"; none otherwise' },
    sendingDomain,
    context: {
      type: 'object',
      description: 'What the template may use: profile traits, the triggering event, … (checked against the Handlebars files)',
      additionalProperties: { $ref: '#/$defs/contextType' },
    },
  },
  ['channel', 'purpose', 'context'],
  { contextType },
);

const purposes = { type: 'array', items: { enum: ['email.marketing', 'email.transactional'] }, uniqueItems: true };
const count = { type: 'integer', minimum: 0 };

const profileModelDocument = document(
  'profile-model',
  'Kairos profile model: what consent events, lifecycle stages and engagement levels mean (one per deployment, id default; what is left out keeps the default)',
  {
    consent: {
      type: 'object',
      description: 'Consent signals; events and categories add to (or replace by name) the defaults',
      properties: {
        doubleOptIn: { ...purposes, description: 'Purposes pending after an opt-in until a confirmation event (default: email.marketing)' },
        events: {
          type: 'object',
          description: 'Event name -> the consent signal it is, e.g. "Newsletter Signup": {signal: grant, purposes: [email.marketing]}',
          additionalProperties: {
            type: 'object',
            properties: { signal: { enum: ['grant', 'withdrawal', 'confirmation'] }, purposes: { ...purposes, minItems: 1 } },
            required: ['signal', 'purposes'],
            additionalProperties: false,
          },
        },
        categories: { type: 'object', description: "Segment's context.consent.categoryPreferences: category -> the purposes it stands for", additionalProperties: purposes },
      },
      additionalProperties: false,
    },
    lifecycle: {
      type: 'object',
      description: 'Lifecycle stages: new, active, at-risk, lapsed, customer, repeat-customer',
      properties: {
        purchaseEvent: { type: 'string', description: 'The event that makes a customer (default Order Completed)' },
        newFor: { ...duration, description: 'New this long after sign-up or first seen (default 30d)' },
        activeWithin: { ...duration, description: 'Active with activity this recent (default 30d)' },
        customerActiveWithin: { ...duration, description: 'A customer whose last order is older is at risk (default 90d)' },
        lapsedAfter: { ...duration, description: 'Lapsed after this long without an order or activity (default 180d)' },
        repeatFrom: { ...count, minimum: 2, description: 'Orders that make a repeat customer (default 2)' },
      },
      additionalProperties: false,
    },
    engagement: {
      type: 'object',
      description: 'Engagement level: high, moderate or passive, from points within a window',
      properties: {
        points: { type: 'object', description: 'Points per track event name, or page / screen for visits (default Email Opened 1, Email Clicked 3, page 1, screen 1)', additionalProperties: { type: 'number' } },
        window: { ...duration, description: 'Points count this long (default 30d)' },
        high: { ...count, description: 'Points for high (default 10)' },
        moderate: { ...count, description: 'Points for moderate (default 3)' },
      },
      additionalProperties: false,
    },
  },
  [],
  {},
);
export const profileModelSchema: Schema = {
  ...profileModelDocument,
  properties: { ...(profileModelDocument.properties as Record<string, unknown>), id: { const: 'default', description: 'One profile model per deployment: its id is default' } },
};

export const DEFINITION_SCHEMAS = { segment: segmentSchema, journey: journeySchema, template: templateSchema, 'profile-model': profileModelSchema } as const;
