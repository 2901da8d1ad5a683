import { DefinitionRecord } from '@kairos/contracts';
import { Definition, definitionKey } from './definition';
import { DefinitionError, formatDefinitionError } from './definition-error';
import { validateDefinitions } from './validate-definitions';

/** A change to the live set: a new record for a kind/id, or null to remove it. */
export interface RecordChange {
  key: string;
  record: DefinitionRecord | null;
}

export interface LiveDefinition {
  record: DefinitionRecord;
  definition: Definition;
}

/**
 * The definitions in force, as records from the topic, validated together — cross-references included, so a journey
 * and the template it names stand or fall together. Immutable: apply() gives the next set, or says why not.
 */
export class DefinitionSet {
  private constructor(
    private readonly records: ReadonlyMap<string, DefinitionRecord>,
    private readonly definitions: ReadonlyMap<string, Definition>,
    readonly errors: readonly DefinitionError[],
  ) {}

  static empty(): DefinitionSet {
    return new DefinitionSet(new Map(), new Map(), []);
  }

  static of(records: Iterable<DefinitionRecord>): DefinitionSet {
    return DefinitionSet.build(new Map([...records].map((record) => [definitionKey(record.kind, record.id), record])));
  }

  private static build(records: Map<string, DefinitionRecord>): DefinitionSet {
    // Each record's files sit under its own key, so two records can never collide on a path.
    const files = [...records].flatMap(([key, record]) => record.files.map((file) => ({ path: `${key}/${file.path}`, text: file.text })));
    const report = validateDefinitions(files);
    const definitions = new Map(report.definitions.map((definition) => [definition.key, definition]));
    const errors = [...report.errors];
    for (const [key, record] of records) {
      const definition = definitions.get(key);
      const ownErrors = errors.some((error) => error.file.startsWith(`${key}/`));
      if (!definition && !ownErrors) errors.push({ file: `${key}/${record.files[0]?.path ?? ''}`, line: 1, column: 1, code: 'schema', message: `the record's files define no ${key}` });
    }
    return new DefinitionSet(records, definitions, errors);
  }

  /** The set with the changes applied, and the errors they would bring that the current set does not have. */
  apply(changes: readonly RecordChange[]): { next: DefinitionSet; newErrors: DefinitionError[] } {
    const records = new Map(this.records);
    for (const change of changes) {
      if (change.record) records.set(change.key, change.record);
      else records.delete(change.key);
    }
    const next = DefinitionSet.build(records);
    const before = new Set(this.errors.map(formatDefinitionError));
    return { next, newErrors: next.errors.filter((error) => !before.has(formatDefinitionError(error))) };
  }

  get(key: string): LiveDefinition | undefined {
    const record = this.records.get(key);
    const definition = this.definitions.get(key);
    return record && definition ? { record, definition } : undefined;
  }

  record(key: string): DefinitionRecord | undefined {
    return this.records.get(key);
  }

  /** Every valid definition in force, by key. */
  all(): LiveDefinition[] {
    return [...this.records.keys()].sort().flatMap((key) => this.get(key) ?? []);
  }

  get size(): number {
    return this.records.size;
  }

  keys(): string[] {
    return [...this.records.keys()].sort();
  }
}
