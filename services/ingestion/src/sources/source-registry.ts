import { describeIssues, SchemaValidator, Topics } from '@kairos/contracts';

export interface Source {
  id: string;
  writeKey: string;
  /** Whether the client's IP address may be stored with its events (off unless the source says so). */
  collectIp: boolean;
}

const SOURCES_SCHEMA = {
  $id: 'kairos:sources-config',
  type: 'array',
  items: {
    type: 'object',
    required: ['id', 'writeKey'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
      writeKey: { type: 'string', minLength: 16 },
      collectIp: { type: 'boolean' },
    },
  },
};

/** The source id of Kairos' own events (the internal topic); reserved, no configured source may take it. */
export const INTERNAL_SOURCE_ID = 'kairos';

/** The sources allowed to send events, looked up by write key (HTTP) or id (raw-topic headers). */
export class SourceRegistry {
  private readonly byKey = new Map<string, Source>();
  private readonly byId = new Map<string, Source>();

  constructor(sources: readonly Source[]) {
    for (const source of sources) {
      if (this.byKey.has(source.writeKey)) throw new Error(`KAIROS_SOURCES: two sources share a write key (${source.id})`);
      if (this.byId.has(source.id)) throw new Error(`KAIROS_SOURCES: source id ${source.id} appears twice`);
      if (source.id === INTERNAL_SOURCE_ID) throw new Error(`KAIROS_SOURCES: source id ${INTERNAL_SOURCE_ID} is reserved for Kairos' own events (${Topics.internal.name})`);
      this.byKey.set(source.writeKey, source);
      this.byId.set(source.id, source);
    }
  }

  /** KAIROS_SOURCES (JSON) plus the development source when KAIROS_DEV_WRITE_KEY is set. */
  static fromConfig(sourcesJson: string | undefined, devWriteKey: string | undefined): SourceRegistry {
    const sources: Source[] = [];
    if (sourcesJson) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(sourcesJson);
      } catch (error) {
        throw new Error(`KAIROS_SOURCES is not JSON: ${(error as Error).message}`);
      }
      const result = new SchemaValidator([SOURCES_SCHEMA]).validate<Array<Omit<Source, 'collectIp'> & { collectIp?: boolean }>>('kairos:sources-config', parsed);
      if (!result.valid) throw new Error(`KAIROS_SOURCES is invalid: ${describeIssues(result.issues)}`);
      sources.push(...result.value.map((source) => ({ ...source, collectIp: source.collectIp ?? false })));
    }
    if (devWriteKey) sources.push({ id: 'dev', writeKey: devWriteKey, collectIp: true });
    return new SourceRegistry(sources);
  }

  byWriteKey(writeKey: string | undefined): Source | undefined {
    return writeKey ? this.byKey.get(writeKey) : undefined;
  }

  bySourceId(id: string): Source | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byKey.size;
  }
}
