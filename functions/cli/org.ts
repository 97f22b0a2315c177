/**
 * Which accounts and regions an org-wide `sweep` or `report` covers (CONTRACT.md section 7), and
 * how the CLI reaches each of them.
 *
 * - No `--org` / `--account`: the caller's own account, as before (no STS call at all).
 * - `--account ID`…: those accounts. Any account other than the caller's own (STS
 *   `GetCallerIdentity`, asked once per cloud and run) needs that cloud's `organization` section.
 * - `--org`: every active account of the organization (AWS Organizations `ListAccounts`; Alibaba
 *   Cloud Resource Directory `ListAccounts`, version 2020-03-31), less `excludeAccounts`. Needs
 *   the `organization` section.
 * - Regions: `--region`…, else the organization's `regions`, else the single-account default.
 *
 * The credentials of a member account are not built here: `AccountAccess.remediator(id, account,
 * region)` is the seam. `singleAccountAccess` answers for the caller's own account only; the
 * per-account AssumeRole implementation (core/accounts.ts, the runtime's) plugs in there.
 */
import {
  ListAccountsCommand,
  type ListAccountsCommandOutput,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { FunctionId } from '#core/outcome';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION, AWS_ACCOUNT, AWS_REGION } from '#core/validation';
import { bounded, CLI_LIMITS } from '../aws/http.ts';
import type { Config } from '../config.ts';
import type { AnyRemediator, Registry } from './registry.ts';
import { UsageError } from './usage.ts';

export type Cloud = 'aws' | 'alicloud';

export const cloudOf = (id: FunctionId): Cloud => (id.startsWith('aws.') ? 'aws' : 'alicloud');

/** Own credentials: no account was named, so none is asked for (single-account mode, as before). */
export const SELF = '';

/** How the CLI acts in one account and region. */
export interface AccountAccess {
  /** The caller's own account in that cloud (STS GetCallerIdentity), asked at most once. */
  ownAccount(cloud: Cloud): Promise<string>;
  /**
   * The remediator that reads (and, for sweep, writes) in `account` (SELF: own credentials).
   * Throws AccountAccessError when that account cannot be reached; the caller turns it into an
   * `error` / `failed` line for that account-region and goes on with the others.
   */
  remediator(id: FunctionId, account: string, region: string): Promise<AnyRemediator>;
}

/** An account (or the organization's account list) could not be reached; carries the service's code. */
export class AccountAccessError extends Error {
  readonly code: string;
  readonly requestId?: string;
  constructor(message: string, code: string, options?: ErrorOptions & { requestId?: string }) {
    super(message, options);
    this.name = 'AccountAccessError';
    this.code = code;
    if (options?.requestId !== undefined) this.requestId = options.requestId;
  }

  /** Wraps whatever an SDK threw, keeping the service's error code and request id. */
  static from(what: string, thrown: unknown): AccountAccessError {
    if (thrown instanceof AccountAccessError) return thrown;
    const e = (thrown ?? {}) as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      requestId?: unknown;
      $metadata?: { requestId?: unknown };
      data?: { RequestId?: unknown };
    };
    const code =
      typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'UnexpectedError';
    const requestId = [e.requestId, e.$metadata?.requestId, e.data?.RequestId].find(
      (r): r is string => typeof r === 'string' && r !== '',
    );
    const message = typeof e.message === 'string' ? e.message : String(thrown);
    return new AccountAccessError(`${what}: ${code}: ${message}`, code, {
      cause: thrown,
      ...(requestId ? { requestId } : {}),
    });
  }
}

/**
 * The caller's own account through its default credentials. Member accounts are refused until
 * the runtime's per-account credentials (STS AssumeRole of `memberRoleName`) are wired in.
 */
export function singleAccountAccess(
  registry: Registry,
  ownAccount: (cloud: Cloud) => Promise<string>,
): AccountAccess {
  const own = new Map<Cloud, Promise<string>>();
  const ownOnce = (cloud: Cloud) => {
    let p = own.get(cloud);
    if (!p) {
      p = ownAccount(cloud);
      own.set(cloud, p);
    }
    return p;
  };
  return {
    ownAccount: ownOnce,
    async remediator(id, account) {
      if (account === SELF || account === (await ownOnce(cloudOf(id)))) return registry.get(id);
      throw new AccountAccessError(
        `account ${account}: this build reaches the caller's own account only (no member-role credentials)`,
        'MemberCredentialsUnavailable',
      );
    },
  };
}

// ------------------------------------------------------------------------------------------------
// the caller's own account
// ------------------------------------------------------------------------------------------------

/** STS GetCallerIdentity of each cloud, through the standard credentials and endpoint variables. */
export function callerAccount(env: Record<string, string | undefined>): (cloud: Cloud) => Promise<string> {
  return async (cloud) => {
    if (cloud === 'aws') {
      const sts = bounded(
        new STSClient({ region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1' }),
        CLI_LIMITS,
      );
      const out = await sts.send(new GetCallerIdentityCommand({}), {
        abortSignal: AbortSignal.timeout(10_000),
      });
      if (out.Account === undefined || !AWS_ACCOUNT.test(out.Account))
        throw new AccountAccessError('STS GetCallerIdentity: no account in the answer', 'InvalidResponse');
      return out.Account;
    }
    const api = await alicloudApi(env);
    const out = await api.rpc('STS', 'cn-hangzhou', 'GetCallerIdentity', '2015-04-01', {});
    const account = out.body.AccountId;
    if (typeof account !== 'string' || !ALICLOUD_ACCOUNT.test(account))
      throw new AccountAccessError('STS GetCallerIdentity: no AccountId in the answer', 'InvalidResponse');
    return account;
  };
}

async function alicloudApi(env: Record<string, string | undefined>) {
  // Loaded on demand so an AWS-only run never loads the Alibaba Cloud client.
  const [{ createAlicloudApi }, { credentialsFrom }] = await Promise.all([
    import('../alicloud/openapi.ts'),
    import('../alicloud/clients.ts'),
  ]);
  return createAlicloudApi({ credentials: () => credentialsFrom(undefined, env), env });
}

// ------------------------------------------------------------------------------------------------
// the organization's accounts
// ------------------------------------------------------------------------------------------------

/** Safety bound on listing pages: 500 pages × 20 (AWS) or × 100 (Alibaba Cloud) accounts. */
const MAX_PAGES = 500;

/**
 * Active accounts of the AWS organization (Organizations ListAccounts, paginated, 20 a page).
 * `AWS_ENDPOINT_URL_ORGANIZATIONS` redirects it (the SDK's own variable).
 */
export async function listAwsAccounts(env: Record<string, string | undefined>): Promise<string[]> {
  // Organizations has one endpoint per partition, in us-east-1 for the commercial partition.
  const client = bounded(
    new OrganizationsClient({
      region: env.AWS_REGION?.startsWith('us-gov-') ? 'us-gov-west-1' : 'us-east-1',
    }),
    CLI_LIMITS,
  );
  const accounts: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const out: ListAccountsCommandOutput = await client.send(
      new ListAccountsCommand({ MaxResults: 20, ...(token ? { NextToken: token } : {}) }),
      { abortSignal: AbortSignal.timeout(10_000) },
    );
    // Suspended and closing accounts cannot be acted on (AssumeRole into them fails).
    for (const account of out.Accounts ?? [])
      if (account.Id && AWS_ACCOUNT.test(account.Id) && (account.Status ?? 'ACTIVE') === 'ACTIVE')
        accounts.push(account.Id);
    token = out.NextToken;
    if (!token) return accounts;
  }
  throw new AccountAccessError(`Organizations ListAccounts: more than ${MAX_PAGES} pages`, 'TooManyPages');
}

/** Member statuses that are members (Terraform's alicloud_resource_manager_accounts lists them all). */
const RD_MEMBER = /^(CreateSuccess|InviteSuccess|Promote(Success|Verifying|Cancelled|Expired|Failed))$/;

/**
 * Accounts of the Alibaba Cloud Resource Directory (ResourceManager ListAccounts, RPC version
 * 2020-03-31, 100 a page, answer `Accounts.Account[].{AccountId,Status}`, `TotalCount`).
 * `ALIBABA_CLOUD_ENDPOINT_RESOURCEMANAGER` redirects it.
 */
export async function listAlicloudAccounts(env: Record<string, string | undefined>): Promise<string[]> {
  const api = await alicloudApi(env);
  const accounts: string[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const out = await api.rpc('RESOURCEMANAGER', 'cn-hangzhou', 'ListAccounts', '2020-03-31', {
      PageNumber: String(page),
      PageSize: '100',
    });
    const body = out.body as { Accounts?: { Account?: unknown }; TotalCount?: unknown };
    const list = Array.isArray(body.Accounts?.Account) ? (body.Accounts.Account as unknown[]) : [];
    for (const item of list) {
      const a = item as { AccountId?: unknown; Status?: unknown };
      if (typeof a.AccountId === 'string' && ALICLOUD_ACCOUNT.test(a.AccountId)) {
        if (typeof a.Status === 'string' && !RD_MEMBER.test(a.Status)) continue;
        accounts.push(a.AccountId);
      }
    }
    const total = typeof body.TotalCount === 'number' ? body.TotalCount : undefined;
    if (list.length < 100 || (total !== undefined && page * 100 >= total)) return accounts;
  }
  throw new AccountAccessError(
    `Resource Directory ListAccounts: more than ${MAX_PAGES} pages`,
    'TooManyPages',
  );
}

// ------------------------------------------------------------------------------------------------
// scope: accounts × regions of one cloud
// ------------------------------------------------------------------------------------------------

export interface ScopeFlags {
  org: boolean;
  accounts: readonly string[];
  regions: readonly string[];
}

export interface Scope {
  cloud: Cloud;
  /** SELF alone in single-account mode. */
  accounts: string[];
  /** Empty: the caller decides (the single-account default regions). */
  regions: string[];
}

export interface ScopeDeps {
  access: AccountAccess;
  listAccounts: (cloud: Cloud) => Promise<string[]>;
}

/** Checks the flags against the config and resolves them; UsageError (exit 2) when they do not fit. */
export async function resolveScope(
  cloud: Cloud,
  flags: ScopeFlags,
  config: Config,
  deps: ScopeDeps,
): Promise<Scope> {
  const organization = config[cloud]?.organization;
  const accountPattern = cloud === 'aws' ? AWS_ACCOUNT : ALICLOUD_ACCOUNT;
  const regionPattern = cloud === 'aws' ? AWS_REGION : ALICLOUD_REGION;
  if (flags.org && flags.accounts.length > 0) throw new UsageError('--org and --account exclude each other');
  const badAccounts = flags.accounts.filter((a) => !accountPattern.test(a));
  if (badAccounts.length > 0)
    throw new UsageError(`not an account id of ${cloud}: ${badAccounts.join(', ')}`);
  const badRegions = flags.regions.filter((r) => !regionPattern.test(r));
  if (badRegions.length > 0) throw new UsageError(`not a region of ${cloud}: ${badRegions.join(', ')}`);
  const regions = [...new Set(flags.regions.length > 0 ? flags.regions : (organization?.regions ?? []))];

  if (!flags.org && flags.accounts.length === 0)
    return { cloud, accounts: [SELF], regions: [...new Set(flags.regions)] };
  if (flags.org) {
    if (organization === undefined)
      throw new UsageError(`--org needs config.${cloud}.organization (memberRoleName, regions)`);
    let listed: string[];
    try {
      listed = await deps.listAccounts(cloud);
    } catch (error) {
      throw AccountAccessError.from(
        cloud === 'aws' ? 'Organizations ListAccounts' : 'Resource Directory ListAccounts',
        error,
      );
    }
    const skip = new Set(organization.excludeAccounts ?? []);
    return { cloud, accounts: [...new Set(listed)].filter((a) => !skip.has(a)).sort(), regions };
  }
  const accounts = [...new Set(flags.accounts)];
  if (organization === undefined) {
    let own: string;
    try {
      own = await deps.access.ownAccount(cloud);
    } catch (error) {
      throw AccountAccessError.from('STS GetCallerIdentity', error);
    }
    const others = accounts.filter((a) => a !== own);
    if (others.length > 0)
      throw new UsageError(
        `--account ${others.join(', ')}: not the caller's own account (${own}); acting on another account needs config.${cloud}.organization`,
      );
  } else {
    const excluded = accounts.filter((a) => organization.excludeAccounts?.includes(a));
    if (excluded.length > 0)
      throw new UsageError(
        `--account ${excluded.join(', ')}: listed in config.${cloud}.organization.excludeAccounts`,
      );
  }
  return { cloud, accounts, regions };
}
