import Handlebars from 'handlebars';
import { DefinitionError, SourceFile } from './definition-error';

/** What a template declares it can use: a type name, an object of names, or a list of one element type. */
export type ContextType = 'string' | 'number' | 'boolean' | 'date' | 'any' | { [name: string]: ContextType } | [ContextType];

/** Names every message can use without declaring them: dispatch fills them in. */
export const BUILT_IN_CONTEXT: Record<string, ContextType> = {
  unsubscribeUrl: 'string',
  preferencesUrl: 'string',
  journey: { id: 'string', version: 'number' },
  step: 'string',
  variant: 'string',
};

/**
 * The helpers a template may call: Handlebars' own block helpers and the formatting helpers dispatch registers.
 * Anything else in helper position is a typo or a helper nobody will provide.
 */
export const TEMPLATE_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'log', 'formatMoney', 'formatDate', 'upper', 'lower', 'default', 'eq', 'plural', 'rawHtml'] as const;
const HELPERS = new Set<string>(TEMPLATE_HELPERS);

type Scope = ContextType;

/**
 * Checks a Handlebars file against the declared context by walking its syntax tree — parsing, not rendering, so no
 * data is needed: every variable must exist in the context (or the scope an #each or #with opens), every helper
 * must be known, every partial must exist. Partials are checked in the scope they are used in.
 */
export class TemplateVariableCheck {
  private readonly errors: DefinitionError[] = [];
  private readonly parsed = new Map<string, hbs.AST.Program | undefined>();

  constructor(
    private readonly partials: ReadonlyMap<string, SourceFile>,
    private readonly context: Record<string, ContextType>,
  ) {}

  /** The errors of this file (and the partials it calls), not those found in files checked before. */
  check(file: SourceFile): DefinitionError[] {
    const before = this.errors.length;
    const program = this.parse(file);
    if (program) this.program(program, file, [{ ...BUILT_IN_CONTEXT, ...this.context }], new Set());
    return this.errors.slice(before);
  }

  private parse(file: SourceFile): hbs.AST.Program | undefined {
    if (!this.parsed.has(file.path)) {
      try {
        this.parsed.set(file.path, Handlebars.parse(file.text));
      } catch (error) {
        const message = (error as Error).message;
        const line = Number(/on line (\d+)/.exec(message)?.[1] ?? 1);
        this.errors.push({ file: file.path, line, column: 1, code: 'template-syntax', message: `Handlebars syntax: ${message.split('\n').slice(-1)[0]}` });
        this.parsed.set(file.path, undefined);
      }
    }
    return this.parsed.get(file.path);
  }

  private program(program: hbs.AST.Program, file: SourceFile, scopes: Scope[], inPartials: Set<string>): void {
    for (const statement of program.body) this.statement(statement, file, scopes, inPartials);
  }

  private statement(node: hbs.AST.Statement, file: SourceFile, scopes: Scope[], inPartials: Set<string>): void {
    switch (node.type) {
      case 'MustacheStatement':
      case 'SubExpression': {
        const call = node as hbs.AST.MustacheStatement;
        // Dispatch refuses unescaped output but through the rawHtml helper; say so at publish time already.
        if (node.type === 'MustacheStatement' && !call.escaped) {
          this.error(file, call.loc, '{{{…}}} and {{& …}}: unescaped output is refused; expected {{…}}, or {{rawHtml …}} for HTML the template itself controls');
        }
        this.call(call.path, call.params, call.hash, file, scopes, inPartials);
        return;
      }
      case 'BlockStatement': {
        const block = node as hbs.AST.BlockStatement;
        const helper = (block.path as hbs.AST.PathExpression).original;
        this.call(block.path, block.params, block.hash, file, scopes, inPartials, true);
        const subject = block.params[0]?.type === 'PathExpression' ? this.resolve(block.params[0] as hbs.AST.PathExpression, scopes) : 'any';
        const inner = helper === 'each' ? elementOf(subject) : helper === 'with' ? subject : undefined;
        if (block.program) this.program(block.program, file, inner === undefined ? scopes : [...scopes, inner], inPartials);
        if (block.inverse) this.program(block.inverse, file, scopes, inPartials);
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement': {
        const partial = node as hbs.AST.PartialStatement;
        const name = partial.name.type === 'PathExpression' ? (partial.name as hbs.AST.PathExpression).original : undefined;
        if (!name) return; // a dynamic partial name: nothing to check before rendering
        const source = this.partials.get(name);
        if (!source) {
          this.error(file, partial.loc, `{{> ${name}}}: no partial "${name}"; expected one of: ${[...this.partials.keys()].join(', ') || '(none defined)'}`);
        } else if (!inPartials.has(name)) {
          const program = this.parse(source);
          if (program) this.program(program, source, scopes, new Set([...inPartials, name]));
        }
        return;
      }
      default:
        return; // content and comments
    }
  }

  private call(path: hbs.AST.Expression, params: hbs.AST.Expression[], hash: hbs.AST.Hash | undefined, file: SourceFile, scopes: Scope[], inPartials: Set<string>, block = false): void {
    const expressions = [...params, ...(hash?.pairs ?? []).map((pair: hbs.AST.HashPair) => pair.value)];
    if (path.type === 'PathExpression') {
      const name = (path as hbs.AST.PathExpression).original;
      if (block || expressions.length > 0) {
        if (!HELPERS.has(name)) this.error(file, path.loc, `{{${name} …}}: unknown helper "${name}"; expected one of: ${TEMPLATE_HELPERS.join(', ')}`);
      } else if (!HELPERS.has(name)) {
        this.variable(path as hbs.AST.PathExpression, file, scopes);
      }
    }
    for (const expression of expressions) {
      if (expression.type === 'PathExpression') this.variable(expression as hbs.AST.PathExpression, file, scopes);
      if (expression.type === 'SubExpression') this.statement(expression as unknown as hbs.AST.Statement, file, scopes, inPartials);
    }
  }

  private variable(path: hbs.AST.PathExpression, file: SourceFile, scopes: Scope[]): void {
    if (this.resolve(path, scopes) === undefined) {
      this.error(file, path.loc, `{{${path.original}}}: the template's context cannot provide "${path.original}"${this.hint(path, scopes)}`);
    }
  }

  /** The type a path has in the scope, or undefined when the context cannot provide it. */
  private resolve(path: hbs.AST.PathExpression, scopes: Scope[]): ContextType | undefined {
    if (path.data) {
      // @index, @key, @first, @last exist inside #each; @root.x is x of the outermost scope.
      if (path.parts[0] !== 'root') return 'any';
      return descend(scopes[0], path.parts.slice(1));
    }
    const scope = scopes[scopes.length - 1 - path.depth];
    if (scope === undefined) return undefined;
    return descend(scope, path.parts);
  }

  private hint(path: hbs.AST.PathExpression, scopes: Scope[]): string {
    const parent = path.parts.length > 1 ? this.resolve({ ...path, parts: path.parts.slice(0, -1) }, scopes) : scopes[scopes.length - 1 - path.depth];
    if (parent && typeof parent === 'object' && !Array.isArray(parent)) return `; expected one of: ${Object.keys(parent).join(', ')} (declare more under context: in the template's YAML)`;
    return " (declare it under context: in the template's YAML)";
  }

  private error(file: SourceFile, loc: hbs.AST.SourceLocation, message: string): void {
    this.errors.push({ file: file.path, line: loc.start.line, column: loc.start.column + 1, code: 'template-variable', message });
  }
}

function descend(type: ContextType | undefined, parts: readonly string[]): ContextType | undefined {
  let current = type;
  for (const part of parts) {
    if (current === undefined) return undefined;
    if (current === 'any') return 'any';
    if (Array.isArray(current)) {
      current = part === 'length' ? 'number' : /^\d+$/.test(part) ? current[0] : undefined;
    } else if (typeof current === 'object') {
      current = Object.prototype.hasOwnProperty.call(current, part) ? current[part] : undefined;
    } else {
      return undefined; // a string has no properties a template should use
    }
  }
  return current;
}

function elementOf(type: ContextType | undefined): ContextType {
  if (Array.isArray(type)) return type[0];
  return 'any';
}
