/**
 * Whose resource is this, and with whose credentials may we touch it (CONTRACT.md section 7)?
 *
 * A function acts on its own account. An event from another account is acted on only when the
 * config has that cloud's `organization` section, and then only with the credentials of the
 * member role in *that* account (STS AssumeRole), never with the function's own. Everything here
 * is cloud-neutral: the Lambda handler, the Function Compute adapter and the CLI each bring their
 * own way of learning their account and of assuming a role, and share the decision, the
 * credentials cache and the per-account routing.
 *
 *   judgeAccount    pure: own / member / excluded / ignored
 *   CredentialCache one AssumeRole per account per credential lifetime, refreshed shortly before expiry
 *   routeByAccount  a Remediator that sends each target's reads and writes to its account's remediator
 */
import type { Config, OrganizationConfig } from './config.ts';
import { RemediationError } from './errors.ts';
import type { Admission, Remediator, Target } from './remediator.ts';

export type Cloud = 'aws' | 'alicloud';

export type AccountVerdict =
  | { kind: 'own' }
  | { kind: 'member'; roleName: string }
  | { kind: 'excluded'; reason: string }
  | { kind: 'ignored'; reason: string };

/** The organization section of `cloud`, if any. */
export const organizationOf = (config: Config, cloud: Cloud): OrganizationConfig | undefined =>
  config[cloud]?.organization;

/**
 * Pure: what to do with a target in `account` for a function running in `own`. An excluded
 * account is excluded even when it is the function's own. When the host cannot tell its own
 * account (only outside the platforms: Lambda and FC always can), an event is taken as its own
 * unless an organization is configured, where the member role is used for every account.
 */
export function judgeAccount(
  account: string,
  own: string | undefined,
  organization: OrganizationConfig | undefined,
  cloud: Cloud,
): AccountVerdict {
  if (organization?.excludeAccounts?.includes(account))
    return { kind: 'excluded', reason: `account ${account} is in ${cloud}.organization.excludeAccounts` };
  if (own === account || (own === undefined && organization === undefined)) return { kind: 'own' };
  if (organization !== undefined) return { kind: 'member', roleName: organization.memberRoleName };
  return {
    kind: 'ignored',
    reason: `event is for account ${account}, not this function's account ${own}; without ${cloud}.organization atrest acts only on its own account`,
  };
}

/** Anything with an absolute expiry time (ms since the epoch). */
export interface Expiring {
  expiresAt: number;
}

export interface CredentialCacheOptions {
  /** Refresh this long before expiry. Default 5 minutes (the AWS SDKs' own margin). */
  refreshMarginMs?: number;
  /** Default Date.now. */
  now?: () => number;
  /** Accounts kept at most; the least recently used is dropped. Default 5 000. */
  maxAccounts?: number;
}

/**
 * Credentials per account, fetched once and kept until shortly before they expire. Concurrent
 * requests for one account share one fetch, so a burst from one account is one AssumeRole. A
 * failed fetch is not kept: the next event asks again (the denial may have been fixed).
 */
export class CredentialCache<C extends Expiring> {
  private readonly entries = new Map<string, C>();
  private readonly inflight = new Map<string, Promise<C>>();
  private readonly margin: number;
  private readonly now: () => number;
  private readonly max: number;
  /** Fetches made (AssumeRole calls), for logs, the bench and tests. */
  fetches = 0;

  constructor(
    private readonly fetch: (account: string) => Promise<C>,
    options: CredentialCacheOptions = {},
  ) {
    this.margin = options.refreshMarginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.max = options.maxAccounts ?? 5_000;
  }

  /** Fresh credentials for `account`: the cached ones, or one fetch shared by every caller. */
  async get(account: string): Promise<C> {
    const fresh = this.current(account);
    if (fresh !== undefined) return fresh;
    let pending = this.inflight.get(account);
    if (pending === undefined) {
      this.fetches += 1;
      pending = this.fetch(account)
        .then((credentials) => {
          this.entries.delete(account);
          this.entries.set(account, credentials);
          if (this.entries.size > this.max) {
            const oldest = this.entries.keys().next().value;
            if (oldest !== undefined) this.entries.delete(oldest);
          }
          return credentials;
        })
        .finally(() => this.inflight.delete(account));
      this.inflight.set(account, pending);
    }
    return pending;
  }

  /** The cached credentials while they are outside the refresh margin, else undefined. Synchronous. */
  current(account: string): C | undefined {
    const entry = this.entries.get(account);
    return entry !== undefined && entry.expiresAt - this.margin > this.now() ? entry : undefined;
  }
}

/** The credentials a member remediator asks for were not ready (a bug: `routeByAccount` fetches first). */
export class CredentialsUnavailableError extends RemediationError {
  readonly retryable = true;
  constructor(account: string) {
    super(`no current credentials for account ${account}`, { code: 'CredentialsUnavailable' });
  }
}

export interface AccountRouting<T extends Target, D, S> {
  cloud: Cloud;
  /** The function's own account; asked per target (FC learns it per invocation). */
  ownAccount: () => string | undefined | Promise<string | undefined>;
  /**
   * The remediator for a member account, with that account's credentials fetched and fresh. Throws
   * a RemediationError (the STS error code and request id) when the role cannot be assumed.
   */
  member: (account: string, roleName: string) => Promise<Remediator<T, D, S>>;
}

/**
 * `base` (the function's own account) with each target's reads and writes routed to its
 * account's remediator, and `admit` answering `excluded` / `ignored` for accounts it must not
 * touch. `list` stays the own account's: an organization-wide sweep lists per account itself.
 */
export function routeByAccount<T extends Target, D, S>(
  base: Remediator<T, D, S>,
  routing: AccountRouting<T, D, S>,
  config: Config,
): Remediator<T, D, S> {
  const organization = organizationOf(config, routing.cloud);
  const verdict = async (target: T): Promise<AccountVerdict> =>
    judgeAccount(target.account, await routing.ownAccount(), organization, routing.cloud);
  const pick = async (target: T): Promise<Remediator<T, D, S>> => {
    const v = await verdict(target);
    if (v.kind === 'own') return base;
    if (v.kind === 'member') return routing.member(target.account, v.roleName);
    // admit() stops these before any read; reaching here means a caller skipped it.
    throw new AccountRefusedError(v.reason);
  };
  return {
    ...base,
    async admit(target, cfg): Promise<Admission | undefined> {
      const v = await verdict(target);
      if (v.kind === 'excluded' || v.kind === 'ignored') return { outcome: v.kind, reason: v.reason };
      return base.admit?.(target, cfg);
    },
    read: async (target) => (await pick(target)).read(target),
    apply: async (target, desired, state) => (await pick(target)).apply(target, desired, state),
    // Member remediators throw the same SDK errors as `base`; STS failures arrive classified.
    classify: (error) => (error instanceof RemediationError ? error : base.classify(error)),
  };
}

/** A read or write for an account this function must not touch. Never retried. */
export class AccountRefusedError extends RemediationError {
  readonly retryable = false;
  constructor(reason: string) {
    super(reason, { code: 'ForeignAccount' });
  }
}
