import type { Config } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { Registry } from '../registry/registry.ts';

/** A registry over the configured storage for one CLI command: no polling, no sweep. */
export async function withRegistry<T>(config: Config, act: (registry: Registry) => Promise<T>): Promise<T> {
  const registry = new Registry(config, createLogger('warn', process.stderr as never));
  try {
    return await act(registry);
  } finally {
    await registry.close();
  }
}
