import { SchemaValidator } from '@kairos/contracts';
import { ConfigOf, Variables } from './variables';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and validates a service's configuration from the environment at boot. Every problem is reported at once,
 * each naming its variable, e.g. "HEALTH_PORT must be <= 65535 (got "70000")".
 */
export function loadConfig<V extends Variables>(variables: V, env: NodeJS.ProcessEnv = process.env): ConfigOf<V> {
  const properties = Object.fromEntries(Object.entries(variables).map(([name, variable]) => [name, variable.schema]));
  const required = Object.entries(variables)
    .filter(([, variable]) => variable.required)
    .map(([name]) => name);
  const schema = { $id: 'kairos:config', type: 'object', properties, required };
  const input: Record<string, unknown> = {};
  for (const name of Object.keys(variables)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[name] = value;
  }
  // coerceTypes turns "8080" into 8080; useDefaults fills what is unset.
  const validator = new SchemaValidator([schema], { coerceTypes: true, useDefaults: true, strict: false });
  const result = validator.validate<ConfigOf<V>>('kairos:config', input);
  if (!result.valid) {
    const problems = result.issues.map((issue) => {
      const name = issue.path.replace(/^\//, '');
      if (!name) return `${issue.message.replace("must have required property '", '').replace(/'$/, '')} is required but not set`;
      return `${name} ${issue.message} (got ${JSON.stringify(env[name])})`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.value;
}


