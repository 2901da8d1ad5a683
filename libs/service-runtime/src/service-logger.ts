import { LoggerService } from '@nestjs/common';

export type LogFormat = 'pretty' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const COLOURS: Record<LogLevel, string> = { debug: '\u001b[90m', info: '', warn: '\u001b[33m', error: '\u001b[31m' };
const RESET = '\u001b[0m';

/**
 * What Nest says while it builds the module graph and maps routes, one line per module and route: useful when wiring
 * goes wrong, noise otherwise. It is logged at debug.
 */
const FRAMEWORK_CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'NestMicroservice']);

/** pretty on a terminal outside production, JSON lines otherwise; LOG_FORMAT decides when set. */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stdout): LogFormat {
  const chosen = env['LOG_FORMAT'];
  if (chosen === 'pretty' || chosen === 'json') return chosen;
  return stream.isTTY && env['NODE_ENV'] !== 'production' ? 'pretty' : 'json';
}

/**
 * The logger of a Kairos process, also handed to Nest. Pretty: one short line per thing that happened,
 * `13:05:12.345 identity  message`, warnings and errors in colour. JSON: one object per line with level, time,
 * service, context and message, for log collectors.
 */
export class ServiceLogger implements LoggerService {
  private readonly minimum: number;
  private readonly colour: boolean;

  constructor(
    private readonly service: string,
    private readonly options: { level?: LogLevel; format?: LogFormat; write?: (line: string) => void; colour?: boolean } = {},
  ) {
    this.minimum = RANK[options.level ?? 'info'];
    this.colour = options.colour ?? (options.format === 'pretty' && !!process.stdout.isTTY);
  }

  log(message: unknown, context?: string): void {
    this.emit(context && FRAMEWORK_CHATTER.has(context) ? 'debug' : 'info', message, context);
  }

  warn(message: unknown, context?: string): void {
    this.emit('warn', message, context);
  }

  error(message: unknown, stackOrContext?: string, context?: string): void {
    // Nest calls error(message, stack, context) or error(message, context).
    const stack = context !== undefined ? stackOrContext : undefined;
    this.emit('error', message, context ?? (stack === undefined ? stackOrContext : undefined), stack);
  }

  debug(message: unknown, context?: string): void {
    this.emit('debug', message, context);
  }

  verbose(message: unknown, context?: string): void {
    this.emit('debug', message, context);
  }

  fatal(message: unknown, context?: string): void {
    this.emit('error', message, context);
  }

  private emit(level: LogLevel, message: unknown, context?: string, stack?: string): void {
    if (RANK[level] < this.minimum) return;
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    const write = this.options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
    const shownContext = context && context !== this.service ? context : undefined;
    if (this.options.format === 'json') {
      write(JSON.stringify({ level, time: new Date().toISOString(), service: this.service, ...(shownContext ? { context: shownContext } : {}), message: text, ...(stack ? { stack } : {}) }));
      return;
    }
    const time = new Date().toISOString().slice(11, 23);
    const label = `${this.service.padEnd(12)}${shownContext ? ` ${shownContext}:` : ''}`;
    const tag = level === 'warn' || level === 'error' ? `${level}: ` : '';
    const line = `${time} ${label} ${tag}${text}${stack && level === 'error' ? `\n${stack}` : ''}`;
    write(this.colour && COLOURS[level] ? `${COLOURS[level]}${line}${RESET}` : line);
  }
}
