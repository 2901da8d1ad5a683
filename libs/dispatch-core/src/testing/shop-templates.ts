import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PartialBody, SourceFile, TemplateBody, validateDefinitions } from '@kairos/definitions';
import { MessageTemplate } from '../render-message';

const SHOP = join(__dirname, '../../../../definitions/shop');

function readFolder(directory: string): SourceFile[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return readFolder(path);
    return /\.(ya?ml|hbs|mjml)$/.test(entry.name) ? [{ path: relative(SHOP, path), text: readFileSync(path, 'utf8') }] : [];
  });
}

/** The example shop's templates and partials as `kairos publish` publishes them (an html.mjml compiled to HTML). */
const shop = validateDefinitions(readFolder(SHOP));
if (shop.errors.length > 0) throw new Error(`definitions/shop does not validate: ${JSON.stringify(shop.errors)}`);

export const SHOP_TEMPLATE_IDS = shop.definitions.filter((definition) => definition.kind === 'template').map((definition) => definition.id);

export const SHOP_PARTIALS: Readonly<Record<string, string>> = Object.fromEntries(
  shop.definitions.filter((definition) => definition.kind === 'partial').map((definition) => [definition.id, (definition.body as PartialBody).source]),
);

export function shopTemplate(id: string): MessageTemplate {
  const definition = shop.definitions.find((candidate) => candidate.kind === 'template' && candidate.id === id);
  if (!definition) throw new Error(`definitions/shop has no template ${id}`);
  const { subject, html, text } = definition.body as TemplateBody;
  return { subject, html, ...(text === undefined ? {} : { text }) };
}
