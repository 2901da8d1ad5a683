import { boolean, ConfigError, ConfigOf, loadConfig, serviceVariables, stateStoreVariables, text } from '@kairos/config';
import { GuardRailPolicy, knownTimeZone, parseTimeOfDay, Purpose } from '@kairos/journeys';
import { parseDuration } from '@kairos/definitions';

/** A cap: "<max>/<period>", "<min gap>" or both (3/7d,16h); never empty. */
const DURATION = '([0-9]+(ms|s|m|h|d|w))+';
const CAP = `([0-9]+/${DURATION}(,${DURATION})?|${DURATION})`;

export const triggersVariables = {
  ...serviceVariables(9104),
  ...stateStoreVariables,
  TRIGGERS_MARKETING_EMAIL_CAP: text({
    description: 'Frequency cap on marketing e-mail across all journeys: "<max>/<period>,<min gap>" (3/7d,16h), or "off"',
    default: '3/7d,16h',
    pattern: `^(off|${CAP})$`,
  }),
  TRIGGERS_CAPS: text({
    description:
      'Caps beyond marketing e-mail (TRIGGERS_MARKETING_EMAIL_CAP sets that one): "<channel>.<purpose>=<cap>", the cap in the same form, for the one other purpose there is: "email.transactional=20/1d". Webhook steps are integrations, not messages, and have none',
    optional: true,
    pattern: `^email\\.transactional=${CAP}$`,
  }),
  TRIGGERS_QUIET_HOURS: text({
    description: 'Local hours in the profile time zone when marketing sends are deferred: "HH:MM-HH:MM" (21:00-08:00), or "off"',
    default: '21:00-08:00',
    pattern: '^(off|([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])$',
  }),
  TRIGGERS_DEFAULT_TIME_ZONE: text({ description: 'Time zone of profiles that have none (IANA name)', default: 'UTC' }),
  TRIGGERS_DECIDE_SPLITS: boolean({
    description: "Test A/B splits that have a winner rule and publish the decisions. Set false in a replay: it reads the live run's decisions instead of making its own",
    default: true,
  }),
};

export type TriggersConfig = ConfigOf<typeof triggersVariables>;

export function loadTriggersConfig(env: NodeJS.ProcessEnv = process.env): TriggersConfig {
  const config = loadConfig(triggersVariables, env);
  const zone = config.TRIGGERS_DEFAULT_TIME_ZONE;
  if (knownTimeZone(zone, '') !== zone) throw new ConfigError(`TRIGGERS_DEFAULT_TIME_ZONE must be an IANA time zone such as Europe/Zurich (got "${zone}")`);
  return config;
}

/** The guard rails of every send, from the configuration (validated by the patterns above). */
export function guardRailPolicy(config: TriggersConfig): GuardRailPolicy {
  const policy: GuardRailPolicy = { caps: [], defaultTimeZone: config.TRIGGERS_DEFAULT_TIME_ZONE };
  // TRIGGERS_CAPS names its channel and purpose; the pattern allows email.transactional only.
  const caps: Array<[Purpose, string | undefined]> = [
    ['marketing', config.TRIGGERS_MARKETING_EMAIL_CAP],
    ['transactional', config.TRIGGERS_CAPS?.slice('email.transactional='.length)],
  ];
  for (const [purpose, cap] of caps) {
    if (cap === undefined || cap === 'off') continue;
    const [count, gap] = cap.includes('/') ? cap.split(',') : [undefined, cap];
    const [max, per] = count === undefined ? [] : count.split('/');
    policy.caps.push({
      channel: 'email',
      purpose,
      ...(max !== undefined && per !== undefined ? { max: Number(max), per: parseDuration(per) } : {}),
      ...(gap ? { minGap: parseDuration(gap) } : {}),
    });
  }
  if (config.TRIGGERS_QUIET_HOURS !== 'off') {
    const [start, end] = config.TRIGGERS_QUIET_HOURS.split('-');
    policy.quietHours = { start: parseTimeOfDay(start), end: parseTimeOfDay(end), purposes: ['marketing'] };
  }
  return policy;
}
