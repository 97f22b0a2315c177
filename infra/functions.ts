/**
 * The deployable functions as infra sees them: id (README, What it does), cloud, and the folder
 * that holds `handler.ts` and `permissions.ts`. Infra reaches a function only through these paths
 * (the entry for bundling, the permissions for IAM/RAM), never through its code.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type Cloud = 'aws' | 'alicloud';

export interface FunctionSpec {
  id: FunctionId;
  cloud: Cloud;
  /** The folder name under functions/<cloud>/. */
  name: string;
}

export const FUNCTION_IDS = [
  'aws.log-group-kms',
  'alicloud.logstore-encryption',
  'alicloud.cluster-kms',
  'alicloud.table-bucket-encryption',
  'alicloud.disk-default-kms',
] as const;

export type FunctionId = (typeof FUNCTION_IDS)[number];

/** Where each function's section sits in the config (README, Configuration). */
export const CONFIG_SECTIONS: Record<FunctionId, readonly [Cloud, string]> = {
  'aws.log-group-kms': ['aws', 'logGroupKms'],
  'alicloud.logstore-encryption': ['alicloud', 'logstoreEncryption'],
  'alicloud.cluster-kms': ['alicloud', 'clusterKms'],
  'alicloud.table-bucket-encryption': ['alicloud', 'tableBucketEncryption'],
  'alicloud.disk-default-kms': ['alicloud', 'diskDefaultKms'],
};

/** The function's config section, or undefined when it is switched off. */
export function configSection(id: FunctionId, config: unknown): unknown {
  const [cloud, key] = CONFIG_SECTIONS[id];
  const clouds = (config ?? {}) as Record<string, Record<string, unknown> | undefined>;
  return clouds[cloud]?.[key];
}

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

export function isFunctionId(value: string): value is FunctionId {
  return (FUNCTION_IDS as readonly string[]).includes(value);
}

/**
 * The config one function is deployed with: its own section, plus the shared top-level keys
 * (`idempotency`, `retry`, …), and nothing of the other functions or the other cloud. Keeps
 * another cloud's ids out of a function's environment and its 4 KB budget for its own section.
 */
export function functionConfig(id: FunctionId, config: Record<string, unknown>): Record<string, unknown> {
  const [cloud, key] = CONFIG_SECTIONS[id];
  const { aws: _aws, alicloud: _alicloud, ...shared } = config;
  const section = configSection(id, config);
  return section === undefined ? shared : { ...shared, [cloud]: { [key]: section } };
}
