import { readFileSync } from 'node:fs';
import { ConfigError } from '#core/errors';
import { type Config, parseConfigJson } from '../config.ts';

/** `--config FILE`, else `$ATREST_CONFIG`. A missing or bad file is a ConfigError (exit 2). */
export function loadCliConfig(flag: string | undefined, env: Record<string, string | undefined>): Config {
  const path = flag ?? env.ATREST_CONFIG;
  if (path === undefined || path === '')
    throw new ConfigError(['no config: pass --config FILE or set ATREST_CONFIG']);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`], {
      cause: error,
    });
  }
  return parseConfigJson(text, path);
}
