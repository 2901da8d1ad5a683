import { ContextType } from './template-variables';
import { SourceFile } from './definition-error';

export type DefinitionKindName = 'segment' | 'journey' | 'template' | 'partial' | 'profile-model';

/** A rule over a profile (segments, branches, goals, trigger conditions); the segmentation issue gives it meaning. */
export type Condition = Record<string, unknown>;
export type Step = Record<string, unknown>;

export interface SegmentBody {
  kind: 'segment';
  id: string;
  name?: string;
  description?: string;
  rule: Condition;
}

export interface JourneyBody {
  kind: 'journey';
  id: string;
  name?: string;
  description?: string;
  trigger: Record<string, unknown>;
  reentry?: { allow: 'once' | 'oncePer' | 'always'; period?: string; activeInstances?: string; key?: string };
  whenCapped?: 'skip' | 'defer';
  goal?: { event: string; within: string; value?: string };
  exitWhen?: Condition;
  /** Overrides the templates' sender for this journey's mail, field by field. */
  sender?: Sender;
  steps: Step[];
}

/** Who a mail is from, set by a template and overridden per field by a journey. */
export interface Sender {
  /** From, e.g. "Shop <hello@shop.example>". */
  from?: string;
  /** Reply-To, e.g. "Service <service@shop.example>". */
  replyTo?: string;
  /** The domain of the Message-ID (<dispatch id@domain>); dispatch's DISPATCH_SENDING_DOMAIN otherwise. */
  sendingDomain?: string;
}

export interface TemplateBody {
  kind: 'template';
  id: string;
  name?: string;
  description?: string;
  channel: 'email';
  purpose: 'marketing' | 'transactional';
  from?: string;
  replyTo?: string;
  sendingDomain?: string;
  context: Record<string, ContextType>;
  /** The Handlebars sources, read from subject.hbs, html.hbs and text.hbs beside the YAML. */
  subject: string;
  html: string;
  text?: string;
}

export interface PartialBody {
  kind: 'partial';
  id: string;
  source: string;
}

/**
 * What the profile state means, beyond what segments declare: which events are consent signals and which purposes need
 * a confirmation, the lifecycle stages' thresholds and the engagement levels' points. One per deployment (id
 * `default`); every field left out keeps Kairos' default, and consent events and categories add to the defaults.
 */
export interface ProfileModelBody {
  kind: 'profile-model';
  id: 'default';
  name?: string;
  description?: string;
  consent?: {
    doubleOptIn?: Array<'email.marketing' | 'email.transactional'>;
    events?: Record<string, { signal: 'grant' | 'withdrawal' | 'confirmation'; purposes: Array<'email.marketing' | 'email.transactional'> }>;
    categories?: Record<string, Array<'email.marketing' | 'email.transactional'>>;
  };
  lifecycle?: { purchaseEvent?: string; newFor?: string; activeWithin?: string; customerActiveWithin?: string; lapsedAfter?: string; repeatFrom?: number };
  engagement?: { points?: Record<string, number>; window?: string; high?: number; moderate?: number };
}

export type DefinitionBody = SegmentBody | JourneyBody | TemplateBody | PartialBody | ProfileModelBody;

/** One definition as a folder has it: what it says, and the files it came from (what its hash covers). */
export interface Definition<B extends DefinitionBody = DefinitionBody> {
  kind: DefinitionKindName;
  id: string;
  /** kind/id: the key on the definitions topic. */
  key: string;
  body: B;
  files: SourceFile[];
}

export function definitionKey(kind: string, id: string): string {
  return `${kind}/${id}`;
}
