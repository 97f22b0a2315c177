/**
 * The work of an org-wide `sweep` or `report`: one unit per (function, account, region), in a
 * stable order, with the scope of each cloud resolved from the flags and the config.
 */

import type { FunctionId } from '#core/outcome';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import type { Config } from '../config.ts';
import { configSection, manifestOf } from '../manifests.ts';
import { CliAccounts } from './accounts.ts';
import {
  type AccountAccess,
  AccountAccessError,
  type Cloud,
  callerAccount,
  cloudOf,
  listAlicloudAccounts,
  listAwsAccounts,
  resolveScope,
  type ScopeFlags,
  SELF,
  singleAccountAccess,
} from './org.ts';
import type { Registry } from './registry.ts';
import { UsageError } from './usage.ts';

export interface Unit {
  fn: FunctionId;
  /** SELF ('') in single-account mode. */
  account: string;
  region: string;
}

/** What an org-wide run may be given instead of the defaults (tests; the runtime's AssumeRole access). */
export interface OrgDeps {
  access?: AccountAccess;
  listAccounts?: (cloud: Cloud) => Promise<string[]>;
}

export const defaultListAccounts =
  (env: Record<string, string | undefined>) =>
  (cloud: Cloud): Promise<string[]> =>
    cloud === 'aws' ? listAwsAccounts(env) : listAlicloudAccounts(env);

export function defaultAccess(
  registry: Registry,
  env: Record<string, string | undefined>,
  config?: Config,
): AccountAccess {
  if (config === undefined) return singleAccountAccess(registry, callerAccount(env));
  // The runtime's per-account credentials: the caller's own account (GetCallerIdentity, once),
  // members through STS AssumeRole of memberRoleName, cached per account for the run.
  const accounts = new CliAccounts({ env, registry });
  return {
    ownAccount: async (cloud) => (await accounts.ownAccount(cloud)).account,
    async remediator(id, account) {
      try {
        return account === SELF ? await registry.get(id) : await accounts.remediatorFor(id, account, config);
      } catch (error) {
        throw AccountAccessError.from(`account ${account}`, error);
      }
    },
  };
}

/** The regions of a single-account run of `id` when none is named: the config's, else the environment's. */
function defaultRegions(id: FunctionId, config: Config, env: Record<string, string | undefined>): string[] {
  // A section may name the regions it serves (disk-default-kms: the regions its timer checks).
  const { config: definition } = manifestOf(id);
  const section = configSection(id, config);
  const configured = section !== undefined ? (definition.regions?.(section) ?? []) : [];
  if (configured.length > 0) return configured;
  const region = id.startsWith('aws.')
    ? (env.AWS_REGION ?? env.AWS_DEFAULT_REGION)
    : env.ALIBABA_CLOUD_REGION_ID;
  return region ? [region] : [];
}

/** Every (function, account, region) of the run, functions in the given order, then accounts, then regions. */
export async function planUnits(
  ids: readonly FunctionId[],
  flags: ScopeFlags,
  config: Config,
  env: Record<string, string | undefined>,
  deps: { access: AccountAccess; listAccounts: (cloud: Cloud) => Promise<string[]> },
): Promise<Unit[]> {
  const scopes = new Map<Cloud, Awaited<ReturnType<typeof resolveScope>>>();
  for (const cloud of new Set(ids.map(cloudOf)))
    scopes.set(cloud, await resolveScope(cloud, flags, config, deps));
  const units: Unit[] = [];
  for (const fn of ids) {
    const scope = scopes.get(cloudOf(fn));
    if (!scope) continue;
    const regions = scope.regions.length > 0 ? scope.regions : defaultRegions(fn, config, env);
    if (regions.length === 0)
      throw new UsageError(
        `${fn}: name at least one --region (no default region in the config or environment)`,
      );
    const pattern = cloudOf(fn) === 'aws' ? AWS_REGION : ALICLOUD_REGION;
    const bad = regions.filter((r) => !pattern.test(r));
    if (bad.length > 0) throw new UsageError(`not a region of ${cloudOf(fn)}: ${bad.join(', ')}`);
    for (const account of scope.accounts)
      for (const region of new Set(regions)) units.push({ fn, account, region });
  }
  return units;
}
