import Handlebars from 'handlebars';
import { RenderError } from './render-failure';
import { RenderLimits } from './render-limits';

/** What the helpers of one render share: the profile's locale and time zone, and the budget left. */
export interface RenderState {
  locale: string;
  timeZone: string;
  limits: RenderLimits;
  iterations: number;
  partialCalls: number;
}

/** Handlebars' private data key under which a render's state travels to the helpers (frames copy it down). */
export const RENDER_STATE_KEY = 'kairosRender';

type Helper = (this: unknown, ...args: unknown[]) => unknown;

/**
 * The helpers of a message, by name — exactly `TEMPLATE_HELPERS` of @kairos/definitions (a unit test holds them
 * together), so what passes validation at publish time renders at send time.
 * - `formatMoney amount currency`: Intl currency format in the profile's locale (de-CH: CHF 1'234.50).
 * - `formatDate value [dateStyle="long"] [timeStyle="short"]`: a Date, ISO string or epoch ms in the profile's
 *   locale and time zone; without styles, the long date.
 * - `default value fallback`: the fallback when the value is missing, null or an empty string.
 * - `plural count one="# item" other="# items" [zero= two= few= many=]`: the form Intl.PluralRules picks for the
 *   profile's locale; `#` becomes the count formatted in that locale.
 * - `upper`, `lower`: case in the profile's locale. `eq a b`: strict equality, for `{{#if (eq …)}}`.
 * - `rawHtml value`: the only way to output unescaped HTML (triple braces are refused). Use it for HTML the
 *   template's author controls, never for a trait or event value.
 * - `each`: Handlebars' loop, counted against the render's iteration and output limits.
 * - `log`: does nothing; a template must not write into the service's log.
 */
export const MESSAGE_HELPERS: Readonly<Record<string, Helper>> = {
  formatMoney(amount, currency, options) {
    const state = stateOf(options);
    const value = toNumber(amount, 'formatMoney');
    if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) {
      throw new RenderError('invalid-value', `formatMoney: "${String(currency)}" is not an ISO 4217 currency code`);
    }
    return numberFormat(state.locale, currency.toUpperCase()).format(value);
  },
  formatDate(value, options) {
    const state = stateOf(options);
    const date = toDate(value);
    const hash = hashOf(options);
    const dateStyle = styleOption(hash.dateStyle, 'dateStyle');
    const timeStyle = styleOption(hash.timeStyle, 'timeStyle');
    const styles = dateStyle || timeStyle ? { dateStyle, timeStyle } : { dateStyle: 'long' as const };
    return intl(`date|${state.locale}|${state.timeZone}|${styles.dateStyle}|${'timeStyle' in styles ? styles.timeStyle : ''}`, () => new Intl.DateTimeFormat(state.locale, { ...styles, timeZone: state.timeZone })).format(date);
  },
  default(value, fallback) {
    return value === undefined || value === null || value === '' ? fallback : value;
  },
  plural(count, options) {
    const state = stateOf(options);
    const value = toNumber(count, 'plural');
    const hash = hashOf(options);
    const form = hash[intl(`plural|${state.locale}`, () => new Intl.PluralRules(state.locale)).select(value)] ?? hash.other;
    if (typeof form !== 'string') throw new RenderError('invalid-value', 'plural: give at least other="…"');
    return form.replace(/#/g, intl(`number|${state.locale}`, () => new Intl.NumberFormat(state.locale)).format(value));
  },
  upper(value, options) {
    return typeof value === 'string' ? value.toLocaleUpperCase(stateOf(options).locale) : value;
  },
  lower(value, options) {
    return typeof value === 'string' ? value.toLocaleLowerCase(stateOf(options).locale) : value;
  },
  eq(left, right) {
    return left === right;
  },
  rawHtml(value) {
    return new Handlebars.SafeString(value === undefined || value === null ? '' : String(value));
  },
  log() {
    return '';
  },
  each(this: unknown, items, options) {
    const state = stateOf(options);
    const block = options as Handlebars.HelperOptions;
    const entries: Array<[string | number, unknown]> = Array.isArray(items)
      ? items.map((item, index) => [index, item])
      : items !== null && typeof items === 'object'
        ? Object.keys(items).map((key) => [key, (items as Record<string, unknown>)[key]])
        : [];
    if (entries.length === 0) return block.inverse(this);
    let output = '';
    entries.forEach(([key, item], index) => {
      state.iterations += 1;
      if (state.iterations > state.limits.maxIterations) {
        throw new RenderError('iteration-limit', `#each: more than ${state.limits.maxIterations} iterations in one message`);
      }
      const data = Handlebars.createFrame(block.data ?? {});
      Object.assign(data, { key, index, first: index === 0, last: index === entries.length - 1 });
      output += block.fn(item, { data, blockParams: [item, key] });
      checkOutput(output, state, '#each');
    });
    return output;
  },
};

export function checkOutput(output: string, state: RenderState, where: string): void {
  if (output.length > state.limits.maxOutputChars) {
    throw new RenderError('output-limit', `${where}: output over ${state.limits.maxOutputChars} characters`);
  }
}

function stateOf(options: unknown): RenderState {
  const state = (options as { data?: Record<string, unknown> } | undefined)?.data?.[RENDER_STATE_KEY];
  if (!state) throw new RenderError('runtime-error', 'helper called outside renderMessage');
  return state as RenderState;
}

function hashOf(options: unknown): Record<string, unknown> {
  return (options as { hash?: Record<string, unknown> } | undefined)?.hash ?? {};
}

function toNumber(value: unknown, helper: string): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) {
    throw new RenderError('invalid-value', `${helper}: "${String(value)}" is not a number`);
  }
  return number;
}

function toDate(value: unknown): Date {
  const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new RenderError('invalid-value', `formatDate: "${String(value)}" is not a date`);
  return date;
}

const STYLES = ['full', 'long', 'medium', 'short'] as const;
type Style = (typeof STYLES)[number];

function styleOption(value: unknown, name: string): Style | undefined {
  if (value === undefined) return undefined;
  if (!STYLES.includes(value as Style)) throw new RenderError('invalid-value', `formatDate: ${name} must be one of ${STYLES.join(', ')}`);
  return value as Style;
}

// Building an Intl formatter costs far more than using one; a mail with a product list formats many prices and dates.
const formatters = new Map<string, unknown>();

/** The formatter `make` builds for `key`, built once (nothing is kept when `make` throws). */
export function intl<T>(key: string, make: () => T): T {
  let formatter = formatters.get(key) as T | undefined;
  if (formatter === undefined) {
    formatter = make();
    if (formatters.size > 1_000) formatters.clear();
    formatters.set(key, formatter);
  }
  return formatter;
}

function numberFormat(locale: string, currency: string): Intl.NumberFormat {
  return intl(`money|${locale}|${currency}`, () => {
    try {
      return new Intl.NumberFormat(locale, { style: 'currency', currency });
    } catch {
      throw new RenderError('invalid-value', `formatMoney: Intl does not know the currency "${currency}"`);
    }
  });
}
