/**
 * Loads a function's `permissions.ts` (data only, never its code) and checks it before a policy is
 * built from it: the right cloud, at least one statement, exact actions (no wildcards, the
 * `service:Action` shape) and at least one resource per statement. A mistake there is a synth
 * error naming the function, not a silently broad or broken policy.
 *
 * A permissions.ts may also export `permissionsFor(section)` when what it needs depends on its
 * config section (logstore-encryption: `ram:PassRole` on the BYOK roles the config names); the
 * infra then uses that, with the section of the config being deployed.
 */
import { pathToFileURL } from 'node:url';
import { ConfigError } from '#core/errors';
import type { PermissionSet } from '#core/permissions';
import { configSection, type FunctionId, functionDir, functionSpec } from './functions.ts';

const ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

interface PermissionsModule {
  permissions?: unknown;
  permissionsFor?: (section: unknown) => unknown;
}

/** The function's permissions for this config (`permissionsFor(section)` when it exports one). */
export async function loadPermissions(id: FunctionId, config?: unknown): Promise<PermissionSet> {
  const url = pathToFileURL(`${functionDir(id)}/permissions.ts`).href;
  const module = (await import(url)) as PermissionsModule;
  const value =
    typeof module.permissionsFor === 'function'
      ? module.permissionsFor(configSection(id, config))
      : module.permissions;
  return checkPermissions(id, value);
}

export async function loadAllPermissions(
  ids: readonly FunctionId[],
  config?: unknown,
): Promise<Map<FunctionId, PermissionSet>> {
  const entries = await Promise.all(ids.map(async (id) => [id, await loadPermissions(id, config)] as const));
  return new Map(entries);
}

/** Throws ConfigError listing every problem; returns the set unchanged when it is sound. */
export function checkPermissions(id: FunctionId, value: unknown): PermissionSet {
  const issues: string[] = [];
  const set = value as Partial<PermissionSet> | undefined;
  if (set === undefined || typeof set !== 'object') throw new ConfigError([`${id}: exports no permissions`]);
  if (set.cloud !== functionSpec(id).cloud) issues.push(`${id}.cloud: expected "${functionSpec(id).cloud}"`);
  if (!Array.isArray(set.statements) || set.statements.length === 0)
    issues.push(`${id}.statements: expected at least one statement`);
  for (const [i, statement] of (set.statements ?? []).entries()) {
    const where = `${id}.statements.${i}`;
    if (!Array.isArray(statement.actions) || statement.actions.length === 0)
      issues.push(`${where}.actions: expected at least one action`);
    for (const action of statement.actions ?? [])
      if (!ACTION.test(action)) issues.push(`${where}.actions: "${action}" is not an exact service:Action`);
    if (!Array.isArray(statement.resources) || statement.resources.length === 0)
      issues.push(`${where}.resources: expected at least one resource`);
    if (typeof statement.why !== 'string' || statement.why === '')
      issues.push(`${where}.why: expected the reason`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return set as PermissionSet;
}
