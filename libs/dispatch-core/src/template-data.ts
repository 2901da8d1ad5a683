/** JSON-like data a template may read. */
export type TemplateValue = string | number | boolean | null | undefined | Date | TemplateValue[] | { [name: string]: TemplateValue };

/**
 * Copies the context into objects without a prototype, keeping only data (no functions, no class instances but Date).
 * Handlebars 4.7 already refuses inherited properties, but it logs a warning for each one a template tries; with no
 * prototype there is nothing to reach (`{{constructor}}` is simply missing), and a function smuggled into the context
 * can never be called by a template.
 */
export function toTemplateData(value: unknown, depth = 0): TemplateValue {
  if (depth > 64) return undefined; // deeper than any real profile or event; also stops cycles
  if (value === null || value === undefined) return value;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) return value.map((item) => toTemplateData(item, depth + 1));
  if (typeof value === 'object' && isPlainObject(value)) {
    const copy = Object.create(null) as { [name: string]: TemplateValue };
    for (const [name, item] of Object.entries(value)) {
      const data = toTemplateData(item, depth + 1);
      if (data !== undefined) copy[name] = data;
    }
    return copy;
  }
  return undefined;
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
