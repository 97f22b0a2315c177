/**
 * Every list of functions (function ids, CLI routing, config sections, the doctor's sections,
 * usage text, the infra's functions and triggers, bundling, the test kit) is derived from the
 * registry (functions/registry.ts, one line per function folder). Manifests are data and lazy
 * factories (functions/core/manifest.ts): importing this loads no function's code.
 */
import type { FunctionManifest } from '#core/manifest';
import type { FunctionId } from '#core/outcome';
import * as registry from './registry.ts';

/** In the registry's order (its export names, f01, f02, …; a module namespace lists them sorted). */
export const MANIFESTS: readonly FunctionManifest[] = Object.entries(registry)
  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  .map(([, manifest]) => manifest);

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
