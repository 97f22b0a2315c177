/**
 * Both platforms cap a function's environment: Lambda at 4 KB for all variables together (keys and
 * values), Function Compute at 4 KB too ("The total size of all environment variables cannot
 * exceed 4 KB", alibabacloud.com/help/en/functioncompute/fc/environment-variables). A config that does not fit must fail synth with the number, not the
 * deployment an hour later.
 *
 * Values that are deploy-time tokens (a table name, a key id parameter) are counted at `tokenBytes`
 * each: the longest value such a token resolves to in practice, so the check stays conservative.
 */
import { ConfigError } from '#core/errors';

export const ENVIRONMENT_LIMIT_BYTES = 4_096;
/** What one unresolved token counts as: a DynamoDB table name or an OTS endpoint URL is shorter. */
export const TOKEN_BYTES = 128;

export interface SizedValue {
  /** The literal text, or undefined for a token resolved at deploy time. */
  text?: string;
  /** How many deploy-time tokens the value holds besides its literal text. */
  tokens?: number;
}

/** Bytes of an environment: every key and every value, tokens at TOKEN_BYTES each. */
export function environmentBytes(env: Record<string, SizedValue>): number {
  let bytes = 0;
  for (const [key, value] of Object.entries(env))
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value.text ?? '') + (value.tokens ?? 0) * TOKEN_BYTES;
  return bytes;
}

/** Throws a ConfigError naming the function, the size and the biggest variable when over the limit. */
export function checkEnvironmentSize(
  functionId: string,
  platform: 'Lambda' | 'Function Compute',
  env: Record<string, SizedValue>,
): number {
  const bytes = environmentBytes(env);
  if (bytes <= ENVIRONMENT_LIMIT_BYTES) return bytes;
  const biggest = Object.entries(env).sort(
    ([, a], [, b]) => environmentBytes({ a: b }) - environmentBytes({ a }),
  )[0]?.[0];
  throw new ConfigError([
    `config (${functionId}): the environment would be ${bytes} bytes, over the ${platform} limit of ${ENVIRONMENT_LIMIT_BYTES} bytes for all variables together; ${biggest} is the largest — shorten its section (e.g. fewer or merged exclude patterns)`,
  ]);
}
