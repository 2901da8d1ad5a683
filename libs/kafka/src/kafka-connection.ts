import { Kafka, logLevel } from 'kafkajs';
import { installProduceEncoding } from './produce-encoding';

export interface KafkaConnectionSettings {
  brokers: string;
  clientId: string;
  /** kafkajs' own log output; it is chatty below WARN. */
  logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  /** Where kafkajs' log lines go (one short line each); kafkajs prints JSON to the console when absent. */
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;
}

const LEVELS = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG };

let encodingReported = false;

export function connectKafka(settings: KafkaConnectionSettings): Kafka {
  // Every Kairos producer keys its records explicitly; the notice about the v2 default partitioner is noise.
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';
  // KAIROS_PRODUCE_ENCODING=kafkajs keeps kafkajs' own encoder (a switch to rule the replacement out when diagnosing).
  const encoding = process.env['KAIROS_PRODUCE_ENCODING'] === 'kafkajs' ? 'not installed: KAIROS_PRODUCE_ENCODING=kafkajs' : installProduceEncoding();
  // Said once per process: anything but the native checksum in place is slower than it should be, and worth a look.
  if (!encodingReported && settings.log) {
    encodingReported = true;
    settings.log(encoding === 'installed (CRC32C: native)' ? 'debug' : 'warn', `produce encoding: ${encoding}`);
  }
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers.split(',').map((broker) => broker.trim()),
    logLevel: LEVELS[settings.logLevel ?? 'warn'],
    ...(settings.log ? { logCreator: kafkajsLogs(settings.log) } : {}),
    retry: { initialRetryTime: 200, retries: 8 },
    connectionTimeout: 3_000,
  });
}

/** The connection type, for code outside this library that hands a connection on (kafkajs stays wrapped here). */
export type KafkaClient = Kafka;

const NAMES: Partial<Record<logLevel, 'error' | 'warn' | 'info' | 'debug'>> = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug' };

/** kafkajs' entries as one line each: what happened, the error, and on which broker. */
function kafkajsLogs(log: NonNullable<KafkaConnectionSettings['log']>) {
  return () =>
    ({ level, log: entry }: { level: logLevel; log: { message: string; error?: string; broker?: string } }) => {
      // "[Connection] Response …" is each broker error answer as it arrives, logged at ERROR even when kafkajs handles
      // it (a rebalance, a leader moving); what kafkajs does about it is logged separately, so these are debug.
      const name = entry.message.startsWith('Response ') ? 'debug' : NAMES[level];
      if (!name) return;
      log(name, `kafkajs: ${entry.message}${entry.error ? `: ${entry.error}` : ''}${entry.broker ? ` (broker ${entry.broker})` : ''}`);
    };
}
