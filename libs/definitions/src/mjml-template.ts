import type mjml2html from 'mjml';
import { DefinitionError, SourceFile } from './definition-error';

/** MJML is loaded when a folder has an html.mjml (~0.3 s and ~40 MB): services, which read published HTML, never do. */
let load: typeof mjml2html | undefined;

/**
 * A template's html.mjml (MJML, https://mjml.io: a layout that holds in phones' mail apps and in Outlook) compiled into
 * the HTML that is published and that dispatch renders with Handlebars. MJML passes Handlebars expressions through as
 * text, in content and in attributes; a block helper between MJML elements goes in <mj-raw>. <mj-include> is ignored:
 * shared pieces are Handlebars partials, so what a template is made of is what the folder publishes.
 */
export function compileMjml(file: SourceFile): { html: string } | { errors: DefinitionError[] } {
  load ??= require('mjml') as typeof mjml2html;
  let result: ReturnType<typeof mjml2html>;
  try {
    result = load(file.text, { validationLevel: 'soft', ignoreIncludes: true, keepComments: false });
  } catch (error) {
    return { errors: [{ file: file.path, line: 1, column: 1, code: 'mjml', message: `MJML: ${(error as Error).message}` }] };
  }
  if (result.errors.length === 0) return { html: result.html };
  return { errors: result.errors.map((error) => ({ file: file.path, line: error.line, column: 1, code: 'mjml', message: `MJML <${error.tagName}>: ${error.message}` })) };
}
