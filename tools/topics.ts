import { loadConfig, topicConfig, topicVariables, kafkaVariables } from '@kairos/config';
import { connectKafka, createCatalogueTopics, inspectCatalogue } from '@kairos/kafka';

const USAGE = `npm run topics [-- --create]

Shows every topic of the catalogue as the cluster has it — partitions, replication factor, min.insync.replicas,
cleanup policy, retention — with its owner and where it differs from the catalogue, and checks that co-partitioned
topics have one partition count. Exits 1 when a topic is missing or differs, or a co-partition group is uneven.

  --create   first create the missing topics (the whole catalogue; services create only the topics they own)

Environment: KAFKA_BROKERS, KAFKA_TOPIC_PARTITIONS, KAFKA_REPLICATION_FACTOR (3), KAFKA_MIN_INSYNC_REPLICAS (2);
a single development broker needs KAFKA_REPLICATION_FACTOR=1 KAFKA_MIN_INSYNC_REPLICAS=1.`;

async function main(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.some((arg) => arg !== '--create')) {
    console.log(USAGE);
    return args.includes('--help') ? 0 : 2;
  }
  const config = loadConfig({ ...kafkaVariables, ...topicVariables });
  const { waitSeconds: _, ...settings } = topicConfig(config);
  const kafka = connectKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-topics' });

  if (args.includes('--create')) {
    const created = await createCatalogueTopics(kafka, settings);
    console.log(created.length > 0 ? `created ${created.join(', ')}` : 'every catalogue topic exists');
  }

  const state = await inspectCatalogue(kafka, settings);
  const rows = state.topics.map(({ spec, actual }) => [
    spec.name,
    spec.owner,
    actual ? String(actual.partitions) : 'missing',
    actual ? String(actual.replicationFactor) : '',
    actual?.minInsyncReplicas === undefined ? '' : String(actual.minInsyncReplicas),
    actual?.cleanupPolicy ?? '',
    actual?.retentionMs === undefined ? '' : actual.retentionMs < 0 ? 'forever' : `${actual.retentionMs / 86_400_000} d`,
    spec.coPartitionGroup ?? '',
  ]);
  const header = ['topic', 'owner', 'partitions', 'replicas', 'min ISR', 'cleanup', 'retention', 'co-partition'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());

  const problems = [
    ...state.topics.filter((topic) => !topic.actual).map(({ spec }) => `${spec.name} is missing (created by ${spec.owner === 'admin' ? 'this command with --create' : `the ${spec.owner} service, or this command with --create`})`),
    ...state.topics.filter((topic) => topic.differences.length > 0).map(({ spec, differences }) => `${spec.name}: ${differences.join(', ')}`),
    ...(state.coPartitioning ? [state.coPartitioning] : []),
  ];
  console.log(problems.length === 0 ? '\nthe cluster matches the catalogue' : `\n${problems.join('\n')}`);
  return problems.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`topics: ${error.message}`);
    process.exit(1);
  },
);
