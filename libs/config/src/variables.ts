/** One environment variable: its JSON Schema, and (only for the type system) the value it yields. */
export interface Variable<T> {
  readonly schema: Record<string, unknown>;
  readonly required: boolean;
  /** Phantom: never set, carries T. */
  readonly type?: T;
}

interface Common<T> {
  description: string;
  default?: T;
}

export function text(options: Common<string> & { pattern?: string; optional?: false }): Variable<string>;
export function text(options: Common<string> & { pattern?: string; optional: true }): Variable<string | undefined>;
export function text(options: Common<string> & { pattern?: string; optional?: boolean }): Variable<string | undefined> {
  const { optional, ...schema } = options;
  return { schema: { type: 'string', minLength: 1, ...schema }, required: options.default === undefined && !optional };
}

export function integer(options: Common<number> & { minimum?: number; maximum?: number }): Variable<number> {
  return { schema: { type: 'integer', ...options }, required: options.default === undefined };
}

export function port(fallback: number, description: string): Variable<number> {
  return integer({ description, default: fallback, minimum: 1, maximum: 65535 });
}

export function boolean(options: Common<boolean>): Variable<boolean> {
  return { schema: { type: 'boolean', ...options }, required: options.default === undefined };
}

export function oneOf<const T extends string>(values: readonly T[], options: Common<T> & { optional?: false }): Variable<T>;
export function oneOf<const T extends string>(values: readonly T[], options: Common<T> & { optional: true }): Variable<T | undefined>;
export function oneOf<const T extends string>(values: readonly T[], options: Common<T> & { optional?: boolean }): Variable<T | undefined> {
  const { optional, ...schema } = options;
  return { schema: { type: 'string', enum: values, ...schema }, required: options.default === undefined && !optional };
}

export type Variables = Record<string, Variable<unknown>>;

export type ConfigOf<V extends Variables> = {
  readonly [K in keyof V]: V[K] extends Variable<infer T> ? T : never;
};
