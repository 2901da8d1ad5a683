import type mjml2html from 'mjml';
import { DefinitionError, SourceFile } from './definition-error';

/**
 * The HTML compiled from a template's html.mjml, published beside it: a follower of the topic (every service) takes
 * it as it is, so what is sent is what was published and checked, whatever MJML a service image has, and services
 * never load MJML. A definitions folder never has this file (`readDefinitionsFolder` reads no .html).
 */
export const MJML_COMPILED_FILE = 'html.mjml.html';

/** MJML is loaded on first use (~0.3 s and ~40 MB): by `kairos validate`, `preview` and `publish`. */
let load: typeof mjml2html | undefined;

/**
 * A template's html.mjml (MJML, https://mjml.io: a layout that holds in phones' mail apps and in Outlook) compiled into
 * the HTML that is published and that dispatch renders with Handlebars. MJML passes Handlebars expressions through as
 * text, in content and in string attributes; a block helper between MJML elements goes in <mj-raw>. What MJML would
 * drop silently — Handlebars between its elements outside <mj-raw>, an <mj-include> — is an error at its line.
 */
export function compileMjml(file: SourceFile): { html: string } | { errors: DefinitionError[] } {
  const error = (line: number, message: string): DefinitionError => ({ file: file.path, line, column: 1, code: 'mjml', message });
  const includes = file.text.split('\n').flatMap((text, index) => (/<mj-include\b/.test(text) ? [error(index + 1, 'MJML <mj-include> is not supported: shared pieces are Handlebars partials (a folder named partials), published and versioned with the rest')] : []));
  if (includes.length > 0) return { errors: includes };
  load ??= require('mjml') as typeof mjml2html;
  let result: ReturnType<typeof mjml2html>;
  // MJML draws ids for carousels and navbars from Math.random: seeded from the source, the same source compiles to
  // the same HTML, so an unchanged template is not a new version on every publish. (MJML 4 compiles synchronously.)
  const random = Math.random;
  Math.random = seededRandom(file.text);
  try {
    result = load(file.text, { validationLevel: 'soft', ignoreIncludes: true, keepComments: false });
  } catch (thrown) {
    return { errors: [error(1, `MJML: ${(thrown as Error).message}`)] };
  } finally {
    Math.random = random;
  }
  if (result.errors.length > 0) return { errors: result.errors.map((refused) => error(refused.line, `MJML <${refused.tagName}>: ${refused.message}`)) };
  const lost = lostHandlebars(file.text, result.html);
  return lost.length > 0 ? { errors: lost.map((statement) => error(statement.line, statement.message)) } : { html: result.html };
}

const WHERE_HANDLEBARS_GOES = 'Handlebars between MJML elements goes inside <mj-raw> (text and partials inside <mj-text>); an mj-style inlined (inline="inline") loses it';

interface Tag {
  text: string;
  line: number;
  /** Blocks' openings, closings and else, and partials: what must come through in the same order. */
  structural: boolean;
}

// Comments first (they may contain "}}"), then raw blocks, triple braces and the rest.
const TAG = /\{\{~?!--[\s\S]*?--~?\}\}|\{\{~?![\s\S]*?\}\}|\{\{\{\{[\s\S]*?\}\}\}\}|\{\{\{[\s\S]*?\}\}\}|\{\{[\s\S]*?\}\}/g;

/** The Handlebars tags of a text as written, in order, with their lines. A comment counts only when it hides MJML. */
function tagsIn(text: string): Tag[] {
  const tags: Tag[] = [];
  let line = 1;
  let counted = 0;
  for (const match of text.matchAll(TAG)) {
    for (; counted < (match.index ?? 0); counted++) if (text.charCodeAt(counted) === 10) line += 1;
    const body = match[0].replace(/^\{+~?\s*/, '');
    if (body.startsWith('!') && !body.includes('<mj-')) continue;
    tags.push({ text: match[0], line, structural: /^([#/^>]|else\b)/.test(body) });
  }
  return tags;
}

/**
 * What MJML did to the template's Handlebars, each at its line: the compiled HTML must have the source's block tags
 * (openings, else, closings) and partials in the same order, every expression at least as often (MJML repeats some
 * attributes for Outlook), and nothing the source does not have (MJML rewrites some attributes, css-class among them).
 * MJML drops text between its elements, so Handlebars outside <mj-raw> and <mj-text> would vanish from the mail.
 */
function lostHandlebars(source: string, compiled: string): Array<{ line: number; message: string }> {
  const from = tagsIn(source);
  const to = tagsIn(compiled);
  const written = new Set(from.map((tag) => tag.text));
  const rewritten = to.find((tag) => !written.has(tag.text));
  if (rewritten) return [{ line: 1, message: `MJML rewrote Handlebars into ${rewritten.text}, which the source does not have: an attribute MJML rewrites (css-class, for one) cannot hold Handlebars` }];
  const structure = { from: from.filter((tag) => tag.structural), to: to.filter((tag) => tag.structural) };
  const differs = structure.from.findIndex((tag, index) => structure.to[index]?.text !== tag.text);
  if (differs >= 0) return [{ line: structure.from[differs].line, message: `MJML dropped ${structure.from[differs].text}: ${WHERE_HANDLEBARS_GOES}` }];
  const left = new Map<string, number>();
  for (const tag of to) left.set(tag.text, (left.get(tag.text) ?? 0) + 1);
  return from.flatMap((tag) => {
    const count = left.get(tag.text) ?? 0;
    left.set(tag.text, count - 1);
    return count > 0 ? [] : [{ line: tag.line, message: `MJML dropped ${tag.text}: ${WHERE_HANDLEBARS_GOES}` }];
  });
}

/** A deterministic stand-in for Math.random (mulberry32), seeded with the FNV-1a hash of a text. */
function seededRandom(text: string): () => number {
  let seed = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) seed = Math.imul(seed ^ text.charCodeAt(index), 0x01000193);
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let value = Math.imul(seed ^ (seed >>> 15), seed | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
