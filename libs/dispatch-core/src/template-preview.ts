import { checkLinks, LinkProblem } from './link-check';
import { MessageContext, MessageTemplate, renderMessage } from './render-message';

/** A declared context type, as template definitions write it (ContextType of @kairos/definitions has this shape). */
export type DeclaredType = 'string' | 'number' | 'boolean' | 'date' | 'any' | { [name: string]: DeclaredType } | [DeclaredType];

export interface PreviewInput {
  template: MessageTemplate & { context: Record<string, DeclaredType> };
  partials: Readonly<Record<string, string>>;
  /** The profile's traits; absent: sample values from the template's declared `profile`. */
  profile?: Record<string, unknown>;
  /** The event's properties; absent: sample values from the declared `event`, if any. */
  event?: Record<string, unknown>;
  allowHttp: boolean;
  locale: string;
  timeZone: string;
}

export type Preview =
  | { ok: true; subject: string; html: string; text?: string; problems: LinkProblem[]; links: number; sampled: string[] }
  | { ok: false; reason: string; part?: string; message: string };

/** Preview links: what dispatch fills in, as well-formed https URLs that lead nowhere. */
export const PREVIEW_BASE_URL = 'https://dispatch.preview.invalid';

/**
 * A template rendered as dispatch renders it — same renderer, helpers, escaping and limits — with the links dispatch
 * fills in as placeholders, and every link and image checked (absolute, well-formed, https unless allowed).
 */
export function previewTemplate(input: PreviewInput): Preview {
  const sampled: string[] = [];
  const profile = input.profile ?? sampleObject(input.template.context['profile'], 'profile', sampled);
  const event = input.event ?? (input.template.context['event'] === undefined ? undefined : sampleObject(input.template.context['event'], 'event', sampled));
  const context: MessageContext = {
    profile,
    ...(event ? { event } : {}),
    journey: { id: 'preview' },
    step: 'preview',
    unsubscribeUrl: `${PREVIEW_BASE_URL}/u/preview-token`,
    preferencesUrl: `${PREVIEW_BASE_URL}/preferences/preview-token`,
    ...('confirmUrl' in input.template.context ? { confirmUrl: `${PREVIEW_BASE_URL}/confirm/preview-token` } : {}),
  };
  const rendered = renderMessage(input.template, input.partials, context, { locale: input.locale, timeZone: input.timeZone });
  if (!rendered.ok) return { ok: false, reason: rendered.reason, ...(rendered.part ? { part: rendered.part } : {}), message: rendered.message };
  const { html, subject, text } = rendered.message;
  return {
    ok: true,
    subject,
    html,
    ...(text === undefined ? {} : { text }),
    problems: checkLinks(html, { allowHttp: input.allowHttp }),
    links: (html.match(/<(a|area|img)\b/gi) ?? []).length,
    sampled: [...new Set(sampled)],
  };
}

function sampleObject(type: DeclaredType | undefined, path: string, sampled: string[]): Record<string, unknown> {
  const value = sample(type ?? {}, path, sampled);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A plausible value per declared type and name: two items per list, prices in the thousands (to show grouping). */
function sample(type: DeclaredType, path: string, sampled: string[]): unknown {
  if (Array.isArray(type)) return [0, 1].map(() => sample(type[0], `${path}[]`, sampled));
  if (typeof type === 'object') return Object.fromEntries(Object.entries(type).map(([name, inner]) => [name, sample(inner, `${path}.${name}`, sampled)]));
  sampled.push(path);
  const name = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  switch (type) {
    case 'number':
      return name.includes('price') || name.includes('total') || name.includes('amount') ? 1234.5 : 2;
    case 'boolean':
      return true;
    case 'date':
      return '2026-06-15T09:30:00Z';
    default:
      if (name.includes('email')) return 'anna.muster@example.ch';
      if (name.includes('currency')) return 'CHF';
      if (name.endsWith('url')) return name.includes('image') ? 'https://shop.example/images/sample.jpg' : 'https://shop.example/p/sample';
      return `sample ${name}`;
  }
}
