import { DefinitionError, DefinitionSet, PlannedChange, planPublish, Publisher, PublishPlan, TopicEntry, validateDefinitions } from '@kairos/definitions';
import { KafkaClient } from '@kairos/kafka';
import { readDefinitionsFolder } from './definitions-folder';
import { readDefinitionsTopic, writeRelease } from './definitions-topic';

export interface FolderRelease {
  /** The folder's own errors, or the errors the changes would bring to the live set; nothing is written with either. */
  errors: DefinitionError[];
  /** Why: the folder is invalid, or the live set would not be. */
  refused?: 'invalid-folder' | 'inconsistent';
  plan?: PublishPlan;
  releaseId?: string;
}

/** Publishes a folder (or, with write false, says what publishing would do): `kairos publish`, `kairos diff`, the stack. */
export async function publishFolder(kafka: KafkaClient, directory: string, by: Publisher, options: { write: boolean; topic?: string }): Promise<FolderRelease> {
  const report = validateDefinitions(readDefinitionsFolder(directory));
  if (report.errors.length > 0) return { errors: report.errors, refused: 'invalid-folder' };
  const topic = await readDefinitionsTopic(kafka, options.topic);
  const plan = planPublish(report.definitions, topic, by, new Date());
  const errors = inconsistency(topic, plan.changes);
  if (errors.length > 0) return { errors, refused: 'inconsistent', plan };
  const releaseId = options.write && plan.changes.length > 0 ? await writeRelease(kafka, plan.changes, options.topic) : undefined;
  return { errors: [], plan, releaseId };
}

/** The errors changes would bring to the live set: what every follower would refuse, refused before writing. */
export function inconsistency(topic: ReadonlyMap<string, TopicEntry>, changes: readonly PlannedChange[]): DefinitionError[] {
  const live = DefinitionSet.of([...topic.values()].flatMap((entry) => (entry.record ? [entry.record] : [])));
  return live.apply(changes.map((planned) => ({ key: planned.key, record: planned.record }))).newErrors;
}
