import Handlebars from 'handlebars';
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

/**
 * The Handlebars statements of the MJML source that the compiled HTML does not have (MJML drops text between its
 * elements), each at its line. A dropped comment matters only when it hid MJML (then its elements are in the mail).
 * A source that does not parse is the variable check's to report.
 */
function lostHandlebars(source: string, compiled: string): Array<{ line: number; message: string }> {
  let sourceAst: hbs.AST.Program;
  try {
    sourceAst = Handlebars.parse(source);
  } catch {
    return [];
  }
  const lines = source.split('\n');
  const textOf = (node: hbs.AST.Node, signature: string) => {
    const text = node.loc.start.line === node.loc.end.line ? lines[node.loc.start.line - 1].slice(node.loc.start.column, node.loc.end.column) : signature;
    return `${node.type === 'BlockStatement' ? 'the block ' : ''}${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
  };
  const relevant = statements(sourceAst).filter(({ node }) => node.type !== 'CommentStatement' || (node as hbs.AST.CommentStatement).value.includes('<mj-'));
  let compiledAst: hbs.AST.Program;
  try {
    compiledAst = Handlebars.parse(compiled);
  } catch (thrown) {
    // Part of a block dropped: name the tags whose text the HTML no longer has (a block's opening and closing apart).
    const why = `the compiled HTML does not parse (${(thrown as Error).message.split('\n').slice(-1)[0]})`;
    const missing = relevant.flatMap(({ node }) => tagsOf(node, lines)).filter((tag) => !compiled.includes(tag.text));
    if (missing.length === 0) return [{ line: 1, message: `MJML left Handlebars unbalanced: ${why}; a block helper between MJML elements goes inside <mj-raw>, its opening and its closing` }];
    return missing.map((tag) => ({ line: tag.line, message: `MJML dropped ${tag.text}, so ${why}: ${WHERE_HANDLEBARS_GOES}` }));
  }
  const remaining = new Map<string, number>();
  for (const { signature } of statements(compiledAst)) remaining.set(signature, (remaining.get(signature) ?? 0) + 1);
  return relevant.flatMap(({ signature, node }) => {
    const left = remaining.get(signature) ?? 0;
    remaining.set(signature, left - 1);
    return left > 0 ? [] : [{ line: node.loc.start.line, message: `MJML dropped ${textOf(node, signature)}: ${WHERE_HANDLEBARS_GOES}` }];
  });
}

/** A statement's tags as written: a block's opening and closing (`{{#if x}}`, `{{/if}}`) each on its own, with lines. */
function tagsOf(node: hbs.AST.Node, lines: readonly string[]): Array<{ line: number; text: string }> {
  const { start, end } = node.loc;
  const first = lines[start.line - 1].slice(start.column);
  const last = lines[end.line - 1].slice(0, end.column);
  if (node.type !== 'BlockStatement') return start.line === end.line ? [{ line: start.line, text: lines[start.line - 1].slice(start.column, end.column) }] : [];
  const opening = first.slice(0, first.indexOf('}}') + 2);
  const closing = last.slice(last.lastIndexOf('{{'));
  return [{ line: start.line, text: opening }, { line: end.line, text: closing }];
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

/** Every mustache, block, partial and comment of a program, depth first, with a signature that ignores position. */
function statements(program: hbs.AST.Program | undefined): Array<{ signature: string; node: hbs.AST.Node }> {
  const printer = new (Handlebars as unknown as { PrintVisitor: new () => { accept(node: hbs.AST.Node): string } }).PrintVisitor();
  const found: Array<{ signature: string; node: hbs.AST.Node }> = [];
  const visit = (body: readonly hbs.AST.Statement[]) => {
    for (const node of body) {
      if (node.type === 'BlockStatement') {
        const block = node as hbs.AST.BlockStatement;
        found.push({ signature: `BLOCK ${printer.accept({ type: 'SubExpression', path: block.path, params: block.params, hash: block.hash, loc: block.loc } as hbs.AST.SubExpression)}`, node });
        visit(block.program?.body ?? []);
        visit(block.inverse?.body ?? []);
      } else if (node.type !== 'ContentStatement') found.push({ signature: printer.accept(node), node });
    }
  };
  visit(program?.body ?? []);
  return found;
}
