/**
 * The deployable functions as infra sees them: id (README, What it does), cloud, and the folder
 * that holds `handler.ts` and `permissions.ts`. Infra reaches a function only through these paths
 * (the entry for bundling, the permissions for IAM/RAM), never through its code.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '#core/errors';
import type { Cloud } from '#core/manifest';
import type { FunctionId } from '#core/outcome';
import { DEFAULT_SWEEP_RATE, sweepRateFrom } from '#core/sweep';
import {
  configSection,
  isFunctionId,
  FUNCTION_IDS as MANIFEST_IDS,
  MANIFESTS,
  manifestOf,
} from '../functions/manifests.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type { Cloud };

export interface FunctionSpec {
  id: FunctionId;
  cloud: Cloud;
  /** The folder name under functions/<cloud>/. */
  name: string;
}

/** The ids of every function folder's manifest (functions/manifests.ts), never retyped here. */
export const FUNCTION_IDS = MANIFEST_IDS;

export type { FunctionId };

/** Where each function's section sits in the config (README, Configuration): from its manifest. */
export const CONFIG_SECTIONS: Record<FunctionId, readonly [Cloud, string]> = Object.fromEntries(
  MANIFESTS.map((m) => [m.id, [m.cloud, m.section] as const]),
);

export { configSection };

export function functionSpec(id: FunctionId): FunctionSpec {
  const [cloud, name] = id.split('.') as [Cloud, string];
  return { id, cloud, name };
}

/** The folder of a function: functions/<cloud>/<name>. */
export function functionDir(id: FunctionId): string {
  const { cloud, name } = functionSpec(id);
  return join(REPO_ROOT, 'functions', cloud, name);
}

/** The platform entry the bundler starts from. */
export function functionEntry(id: FunctionId): string {
  return join(functionDir(id), 'handler.ts');
}

/** Functions whose handler exists in this checkout (all five once the tree is complete). */
export function existingFunctions(cloud?: Cloud): FunctionId[] {
  return FUNCTION_IDS.filter(
    (id) => (cloud === undefined || functionSpec(id).cloud === cloud) && existsSync(functionEntry(id)),
  );
}

export { isFunctionId };

/**
 * The config one function is deployed with: its own section and its cloud's `organization` (the
 * handler reads it to act on member accounts), plus the shared top-level keys (`idempotency`,
 * `retry`, …), and nothing of the other functions or the other cloud. Keeps another cloud's ids
 * out of a function's environment and its 4 KB budget for its own section.
 */
export function functionConfig(id: FunctionId, config: Record<string, unknown>): Record<string, unknown> {
  const { cloud, section: key } = manifestOf(id);
  const { aws: _aws, alicloud: _alicloud, ...shared } = config;
  const organization = (config[cloud] as Record<string, unknown> | undefined)?.organization;
  const section = configSection(id, config);
  const own = {
    ...(organization === undefined ? {} : { organization }),
    ...(section === undefined ? {} : { [key]: section }),
  };
  return Object.keys(own).length === 0 ? shared : { ...shared, [cloud]: own };
}

/** Default cap on instances per function: the bench shows the adaptive limiter holds up to a few dozen. */
const DEFAULT_RESERVED_CONCURRENCY = 20;

/**
 * The sweep rate a stack passes its functions, validated with the functions' own parser, so a bad
 * rate fails the synth, not every run.
 */
export const deployedSweepRate = (rate: number | undefined): string =>
  String(sweepRateFrom({ ATREST_SWEEP_RATE: String(rate ?? DEFAULT_SWEEP_RATE) }));

/**
 * A stack's cap on concurrent instances per function: the default when absent, `null` for none;
 * 0 or a fraction is a ConfigError (0 would stop every invocation).
 */
export function reservedConcurrencyOf(value: number | null | undefined): number | null {
  const reserved = value === undefined ? DEFAULT_RESERVED_CONCURRENCY : value;
  if (reserved !== null && (!Number.isInteger(reserved) || reserved < 1))
    throw new ConfigError([
      `reservedConcurrency: expected a whole number of at least 1 (0 would stop every invocation), got ${reserved}`,
    ]);
  return reserved;
}
