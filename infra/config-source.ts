/**
 * Where the infra apps find the config and their switches: CDK-style context first (`-c key=value`),
 * then the environment (`ATREST_CONFIG`, the same variable the CLI reads). The document is only
 * read here; each stack validates it with `parseConfig`, the parser the functions run.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '#core/errors';

/** Reads and JSON-parses a config file; the stack validates the content. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    throw new ConfigError([`config: cannot read ${path} (${(error as Error).message})`], { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError([`config: ${path} is not valid JSON (${(error as Error).message})`], {
      cause: error,
    });
  }
}

/** The config file named by context `config`, else `$ATREST_CONFIG`; required. */
export function configPathFrom(
  context: (key: string) => unknown,
  env: Record<string, string | undefined> = process.env,
): string {
  const path = context('config') ?? env.ATREST_CONFIG;
  if (typeof path !== 'string' || path === '')
    throw new ConfigError(['config: pass -c config=FILE or set ATREST_CONFIG to the config file']);
  return path;
}

/** A boolean switch from context: `true`/`false` (CLI context values arrive as strings). */
export function booleanFrom(context: (key: string) => unknown, key: string, fallback: boolean): boolean {
  const value = context(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError([`${key}: expected true or false, got ${JSON.stringify(value)}`]);
}

/** An optional string from context. */
export function stringFrom(context: (key: string) => unknown, key: string): string | undefined {
  const value = context(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new ConfigError([`${key}: expected a non-empty string, got ${JSON.stringify(value)}`]);
  return value;
}

/** An optional positive integer from context (strings accepted, as the CDK CLI passes them). */
export function integerFrom(context: (key: string) => unknown, key: string): number | undefined {
  const value = context(key);
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError([`${key}: expected a non-negative integer, got ${JSON.stringify(value)}`]);
  return n;
}

/** A required string from context; the error says what it is for. */
export function requiredStringFrom(context: (key: string) => unknown, key: string, what: string): string {
  const value = stringFrom(context, key);
  if (value === undefined) throw new ConfigError([`${key}: required — ${what}`]);
  return value;
}

/**
 * A concurrency cap from context: a whole number ≥ 1, or `none` for no cap (null); undefined when
 * absent, so the stack's default applies.
 */
export function capFrom(context: (key: string) => unknown, key: string): number | null | undefined {
  if (context(key) === 'none') return null;
  const n = integerFrom(context, key);
  if (n === 0)
    throw new ConfigError([`${key}: 0 would throttle every event; use a whole number ≥ 1 or "none"`]);
  return n;
}
