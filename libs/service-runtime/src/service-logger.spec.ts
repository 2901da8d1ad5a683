import { defaultLogFormat, ServiceLogger } from './service-logger';

function capture(options: ConstructorParameters<typeof ServiceLogger>[1]) {
  const lines: string[] = [];
  return { lines, logger: new ServiceLogger('identity', { ...options, write: (line) => lines.push(line) }) };
}

describe('ServiceLogger', () => {
  it('writes one short line per thing in pretty form, with the level named for warnings and errors', () => {
    const { lines, logger } = capture({ format: 'pretty', colour: false });
    logger.log('started in 812 ms');
    logger.warn('kairos.events.accepted.v1#0 waits for a dependency', 'kafka');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} identity {5}started in 812 ms$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} identity {5}kafka: warn: kairos\.events\.accepted\.v1#0 waits for a dependency$/);
  });

  it('keeps the framework\'s start-up chatter out of the default level', () => {
    const { lines, logger } = capture({ format: 'pretty', colour: false });
    logger.log('IdentityModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/internal/erasures, POST} route', 'RouterExplorer');
    logger.log('database schema up to date');
    expect(lines).toHaveLength(1);
    const debug = capture({ format: 'pretty', colour: false, level: 'debug' });
    debug.logger.log('IdentityModule dependencies initialized', 'InstanceLoader');
    expect(debug.lines).toHaveLength(1);
  });

  it('writes JSON lines for collectors, with the stack of an error', () => {
    const { lines, logger } = capture({ format: 'json' });
    logger.error('stop failed', 'Error: stop failed\n    at x', 'runtime');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', service: 'identity', context: 'runtime', message: 'stop failed', stack: 'Error: stop failed\n    at x' });
  });

  it('is pretty on a terminal, JSON when piped or in production, and LOG_FORMAT decides when set', () => {
    expect(defaultLogFormat({}, { isTTY: true })).toBe('pretty');
    expect(defaultLogFormat({}, { isTTY: false })).toBe('json');
    expect(defaultLogFormat({ NODE_ENV: 'production' }, { isTTY: true })).toBe('json');
    expect(defaultLogFormat({ LOG_FORMAT: 'pretty' }, { isTTY: false })).toBe('pretty');
  });
});
