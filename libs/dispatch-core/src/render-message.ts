import Handlebars from 'handlebars';
import { checkOutput, intl, MESSAGE_HELPERS, RENDER_STATE_KEY, RenderState } from './message-helpers';
import { MessagePart, RenderError, RenderFailure, RenderFailureReason } from './render-failure';
import { DEFAULT_RENDER_LIMITS, RenderLimits } from './render-limits';
import { oneLine } from './one-line';
import { toTemplateData } from './template-data';

/** The Handlebars sources of a template definition (TemplateBody of @kairos/definitions has this shape). */
export interface MessageTemplate {
  subject: string;
  html: string;
  text?: string;
}

/**
 * What a message is rendered from. Top-level names are what templates write (`{{profile.firstName}}`,
 * `{{unsubscribeUrl}}`); a template may declare more (confirm-subscription declares `confirmUrl`).
 */
export interface MessageContext {
  /** The profile's traits. */
  profile: Record<string, unknown>;
  /** The triggering event's properties (the abandoned cart: cartId, currency, products with name, price, url, imageUrl). */
  event?: Record<string, unknown>;
  journey?: { id: string; version?: number };
  step?: string;
  variant?: string;
  unsubscribeUrl?: string;
  preferencesUrl?: string;
  [name: string]: unknown;
}

export interface RenderOptions {
  /** BCP 47, from the profile (falling back to the template's or the shop's): de-CH formats CHF 1'234.50. */
  locale: string;
  /** IANA, from the profile: dates are shown as the recipient's calendar has them. */
  timeZone: string;
  limits?: Partial<RenderLimits>;
}

export interface RenderedMessage {
  /** One line: no CR, LF or other control characters, whatever the traits contained. */
  subject: string;
  html: string;
  /** Absent when the template has no text.hbs. */
  text?: string;
}

export type RenderResult = { ok: true; message: RenderedMessage } | RenderFailure;

// One isolated environment: only our helpers, no partials registered globally (they come with each render, so two
// template versions with a partial of the same name never see each other's), nothing shared with other Handlebars users.
const environment = Handlebars.create();
environment.unregisterHelper('helperMissing');
environment.unregisterHelper('blockHelperMissing');
environment.registerHelper(MESSAGE_HELPERS);

// knownHelpersOnly: a name in helper position that is not ours is a compile error, not a lookup in the data.
const KNOWN_HELPERS = Object.fromEntries(['if', 'unless', 'with', 'lookup', ...Object.keys(MESSAGE_HELPERS)].map((name) => [name, true]));

/**
 * Renders subject, HTML and text of one message, or says why it cannot: a typed RenderFailure, never a blank or
 * half mail. HTML is escaped; subject and text are plain text (not escaped — they are not HTML — and the subject is
 * made one line). Templates see only data: no prototypes, no functions, no helpers but MESSAGE_HELPERS.
 */
export function renderMessage(template: MessageTemplate, partials: Readonly<Record<string, string>>, context: MessageContext, options: RenderOptions): RenderResult {
  const invalid = invalidOption(options);
  if (invalid) return { ok: false, reason: 'invalid-option', message: invalid };
  const state: RenderState = { locale: options.locale, timeZone: options.timeZone, limits: { ...DEFAULT_RENDER_LIMITS, ...options.limits }, iterations: 0, partialCalls: 0 };
  const data = toTemplateData(context);

  const parts: Array<[MessagePart, string | undefined]> = [['subject', template.subject], ['html', template.html], ['text', template.text]];
  const rendered: Partial<Record<MessagePart, string>> = {};
  for (const [part, source] of parts) {
    if (source === undefined) continue;
    try {
      state.partialCalls = 0;
      const output = renderPart(source, partials, data, state, part !== 'html');
      checkOutput(output, state, part);
      rendered[part] = part === 'subject' ? oneLine(output) : output;
    } catch (error) {
      return failure(part, error);
    }
    if (part !== 'text' && (rendered[part] ?? '').trim() === '') return { ok: false, reason: 'empty-output', part, message: `the ${part} is empty` };
  }
  return { ok: true, message: { subject: rendered.subject ?? '', html: rendered.html ?? '', ...(rendered.text === undefined ? {} : { text: rendered.text }) } };
}

function renderPart(source: string, partials: Readonly<Record<string, string>>, data: unknown, state: RenderState, plainText: boolean): string {
  const compiled = compile(source, plainText);
  const runtimePartials: Record<string, Handlebars.TemplateDelegate> = {};
  for (const [name, partialSource] of Object.entries(partials)) {
    runtimePartials[name] = (partialContext: unknown, partialOptions?: Handlebars.RuntimeOptions) => {
      state.partialCalls += 1;
      if (state.partialCalls > state.limits.maxPartialCalls) {
        throw new RenderError('partial-limit', `more than ${state.limits.maxPartialCalls} partial calls in one part`);
      }
      const output = compile(partialSource, plainText)(partialContext, partialOptions);
      checkOutput(output, state, `partial ${name}`);
      return output;
    };
  }
  return compiled(data, {
    data: { [RENDER_STATE_KEY]: state },
    partials: runtimePartials,
    // Handlebars 4.7's defaults, stated so that no upgrade or global setting turns prototype access back on.
    allowProtoPropertiesByDefault: false,
    allowProtoMethodsByDefault: false,
    allowCallsToHelperMissing: false,
  });
}

// Compiling costs far more than rendering; templates change only with a publish, so the compiled form is kept by source.
const compiled = new Map<string, Handlebars.TemplateDelegate>();

function compile(source: string, plainText: boolean): Handlebars.TemplateDelegate {
  const key = `${plainText ? 'text' : 'html'}\u0000${source}`;
  let template = compiled.get(key);
  if (!template) {
    const program = parse(source);
    template = environment.compile(program, { knownHelpers: KNOWN_HELPERS, knownHelpersOnly: true, noEscape: plainText, strict: false });
    if (compiled.size > 2_000) compiled.clear();
    compiled.set(key, template);
  }
  return template;
}

function parse(source: string): hbs.AST.Program {
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(source);
  } catch (error) {
    throw new RenderError('syntax', (error as Error).message);
  }
  const refused = refusal(program);
  if (refused) throw refused;
  return program;
}

/** What the compiler would let through but a message may not contain: unescaped output, Mustache-style sections. */
function refusal(program: hbs.AST.Program): RenderError | undefined {
  for (const statement of program.body) {
    const line = statement.loc.start.line;
    if (statement.type === 'MustacheStatement' && !(statement as hbs.AST.MustacheStatement).escaped) {
      return new RenderError('unescaped-output', `line ${line}: triple braces and {{& …}} are refused; use {{rawHtml …}} for HTML the template controls`);
    }
    if (statement.type === 'BlockStatement' || statement.type === 'PartialBlockStatement') {
      const block = statement as hbs.AST.BlockStatement;
      const name = block.path.type === 'PathExpression' ? (block.path as hbs.AST.PathExpression).original : '';
      if (statement.type === 'BlockStatement' && !Object.prototype.hasOwnProperty.call(KNOWN_HELPERS, name)) {
        return new RenderError('unknown-helper', `line ${line}: {{#${name}}} is not a helper; use {{#with …}} or {{#each …}}`);
      }
      const found = (block.program && refusal(block.program)) || (block.inverse && refusal(block.inverse));
      if (found) return found;
    }
  }
  return undefined;
}

function invalidOption(options: RenderOptions): string | undefined {
  try {
    intl(`number|${options.locale}`, () => new Intl.NumberFormat(options.locale)); // built once per locale: building one costs more than a render
  } catch {
    return `locale "${options.locale}" is not a BCP 47 tag Intl knows`;
  }
  try {
    intl(`zone|${options.timeZone}`, () => new Intl.DateTimeFormat('en', { timeZone: options.timeZone }));
  } catch {
    return `time zone "${options.timeZone}" is not an IANA zone Intl knows`;
  }
  return undefined;
}

function failure(part: MessagePart, error: unknown): RenderFailure {
  if (error instanceof RenderError) return { ok: false, reason: error.reason, part, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, reason: reasonOf(message, error), part, message };
}

function reasonOf(message: string, error: unknown): RenderFailureReason {
  if (/unknown helper/.test(message)) return 'unknown-helper';
  if (/partial .* could not be found/i.test(message)) return 'missing-partial';
  if (/Parse error|Expecting/.test(message)) return 'syntax';
  // A partial that includes itself runs out of stack before any limit: still a runaway template.
  if (error instanceof RangeError && /call stack/.test(message)) return 'partial-limit';
  return 'runtime-error';
}
