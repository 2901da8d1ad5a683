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
  try {
    result = load(file.text, { validationLevel: 'soft', ignoreIncludes: true, keepComments: false });
  } catch (thrown) {
    return { errors: [error(1, `MJML: ${(thrown as Error).message}`)] };
  }
  if (result.errors.length > 0) return { errors: result.errors.map((refused) => error(refused.line, `MJML <${refused.tagName}>: ${refused.message}`)) };
  const lost = lostHandlebars(file.text, result.html);
  return lost.length > 0 ? { errors: lost.map((statement) => error(statement.line, statement.message)) } : { html: result.html };
}

/**
 * The Handlebars statements of the MJML source that the compiled HTML does not have (MJML drops text between its
 * elements), each at its line; or one error when the compiled HTML does not parse. A source that does not parse is
 * the variable check's to report.
 */
function lostHandlebars(source: string, compiled: string): Array<{ line: number; message: string }> {
  let sourceAst: hbs.AST.Program;
  try {
    sourceAst = Handlebars.parse(source);
  } catch {
    return [];
  }
  try {
    const remaining = new Map<string, number>();
    for (const { signature } of statements(Handlebars.parse(compiled))) remaining.set(signature, (remaining.get(signature) ?? 0) + 1);
    return statements(sourceAst).flatMap(({ signature, node }) => {
      const left = remaining.get(signature) ?? 0;
      remaining.set(signature, left - 1);
      if (left > 0) return [];
      const line = node.loc.start.line;
      const text = node.loc.start.line === node.loc.end.line ? source.split('\n')[line - 1].slice(node.loc.start.column, node.loc.end.column) : signature;
      return [{ line, message: `MJML dropped ${node.type === 'BlockStatement' ? 'the block ' : ''}${text.length > 60 ? `${text.slice(0, 57)}...` : text}: Handlebars between MJML elements goes inside <mj-raw> (text and partials inside <mj-text>)` }];
    });
  } catch (thrown) {
    return [{ line: 1, message: `MJML moved Handlebars so that the compiled HTML does not parse (${(thrown as Error).message.split('\n').slice(-1)[0]}): a block helper between MJML elements goes inside <mj-raw>, its opening and its closing` }];
  }
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
