/**
 * The functions atrest has: one line per function folder, and the only list of them. Every other
 * list (function ids, CLI routing, config sections, the doctor's sections, usage text, the infra's
 * functions and triggers, bundling, the test kit) is derived from this one. Manifests are data and
 * lazy factories (functions/core/manifest.ts): importing this loads no function's code.
 */
import type { FunctionManifest } from '#core/manifest';
import type { FunctionId } from '#core/outcome';
import { manifest as clusterKms } from './alicloud/cluster-kms/manifest.ts';
import { manifest as diskDefaultKms } from './alicloud/disk-default-kms/manifest.ts';
import { manifest as logstoreEncryption } from './alicloud/logstore-encryption/manifest.ts';
import { manifest as tableBucketEncryption } from './alicloud/table-bucket-encryption/manifest.ts';
import { manifest as logGroupKms } from './aws/log-group-kms/manifest.ts';

export const MANIFESTS: readonly FunctionManifest[] = [
  logGroupKms,
  logstoreEncryption,
  clusterKms,
  tableBucketEncryption,
  diskDefaultKms,
];

export const FUNCTION_IDS: readonly FunctionId[] = MANIFESTS.map((m) => m.id);

const BY_ID = new Map(MANIFESTS.map((m) => [m.id, m]));

export const isFunctionId = (value: string): value is FunctionId => BY_ID.has(value as FunctionId);

/** The manifest of a known id; throws on an unknown one (check with isFunctionId first). */
export function manifestOf(id: FunctionId): FunctionManifest {
  const manifest = BY_ID.get(id);
  if (manifest === undefined) throw new Error(`unknown function id "${id}"`);
  return manifest;
}

export const manifestsOf = (cloud: FunctionManifest['cloud']): FunctionManifest[] =>
  MANIFESTS.filter((m) => m.cloud === cloud);

/** The function's section of a config document (`<cloud>.<section>`), or undefined when it is off. */
export function configSection(id: FunctionId, config: unknown): unknown {
  const { cloud, section } = manifestOf(id);
  const clouds = (config ?? {}) as Record<string, Record<string, unknown> | undefined>;
  return clouds[cloud]?.[section];
}
