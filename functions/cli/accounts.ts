/**
 * Whose account, for the CLI (CONTRACT.md section 7): the caller's own account comes from STS
 * GetCallerIdentity (AWS STS; Alibaba Cloud STS), asked once per run and cloud, and only when a
 * target of that cloud is met. An event for another account is `ignored` without that cloud's
 * `organization` section; with it, it is processed with the member role's credentials (STS
 * AssumeRole, cached per account for the run). `replay` and `sweep` wrap every remediator here.
 */
import {
  AccountRefusedError,
  type Cloud,
  CredentialCache,
  CredentialsUnavailableError,
  judgeAccount,
  organizationOf,
  routeByAccount,
} from '#core/accounts';
import type { FunctionId } from '#core/outcome';
import type { Config } from '../config.ts';
import type { AnyRemediator, Registry } from './registry.ts';

interface Own {
  account: string;
  partition: string;
}

interface MemberCredentials {
  expiresAt: number;
  aws?: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  alicloud?: { accessKeyId: string; accessKeySecret: string; securityToken: string };
}

export interface CliAccountsOptions {
  env: Record<string, string | undefined>;
  registry: Registry;
}

export class CliAccounts {
  private readonly own = new Map<Cloud, Promise<Own>>();
  private readonly caches = new Map<Cloud, CredentialCache<MemberCredentials>>();
  private readonly members = new Map<string, Promise<AnyRemediator>>();

  constructor(private readonly options: CliAccountsOptions) {}

  /** GetCallerIdentity, once per run and cloud (a failure is kept too: it would fail the same way). */
  ownAccount(cloud: Cloud): Promise<Own> {
    let own = this.own.get(cloud);
    if (own === undefined) {
      own = cloud === 'aws' ? this.awsCaller() : this.alicloudCaller();
      // Handled by every awaiting caller; this only keeps an early rejection from being "unhandled".
      own.catch(() => {});
      this.own.set(cloud, own);
    }
    return own;
  }

  /** `base` (the caller's own account) with other accounts routed, excluded or ignored. */
  wrap(base: AnyRemediator, config: Config): AnyRemediator {
    const cloud: Cloud = base.id.startsWith('aws.') ? 'aws' : 'alicloud';
    return routeByAccount(
      base,
      {
        cloud,
        ownAccount: async () => (await this.ownAccount(cloud)).account,
        member: (account, roleName) => this.member(base.id, cloud, account, roleName),
      },
      config,
    );
  }

  /**
   * The remediator to list and remediate `account` with (the org-wide sweep and report): the
   * caller's own for its own account, the member role's for another account when the config has
   * the cloud's `organization` section. Throws AccountRefusedError for an excluded account or one
   * the config does not cover.
   */
  async remediatorFor(id: FunctionId, account: string, config: Config): Promise<AnyRemediator> {
    const cloud: Cloud = id.startsWith('aws.') ? 'aws' : 'alicloud';
    const own = await this.ownAccount(cloud);
    const verdict = judgeAccount(account, own.account, organizationOf(config, cloud), cloud);
    if (verdict.kind === 'excluded' || verdict.kind === 'ignored')
      throw new AccountRefusedError(verdict.reason);
    if (verdict.kind === 'own') return this.options.registry.create(id, { account });
    const member = await this.member(id, cloud, account, verdict.roleName);
    // Reads and writes go through the router, which refreshes the member's credentials before
    // each one; the listing is the member's own.
    return { ...this.wrap(member, config), ...(member.list ? { list: member.list } : {}) };
  }

  private awsRegion(): string {
    return this.options.env.AWS_REGION ?? this.options.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  }

  private alicloudRegion(): string {
    return this.options.env.ALIBABA_CLOUD_REGION_ID ?? 'cn-hangzhou';
  }

  private async awsCaller(): Promise<Own> {
    const { AwsAccounts } = await import('../aws/accounts.ts');
    return new AwsAccounts({ region: this.awsRegion() }).caller();
  }

  private async alicloudCaller(): Promise<Own> {
    const [{ AlicloudAccounts }, { credentialsFrom }] = await Promise.all([
      import('../alicloud/accounts.ts'),
      import('../alicloud/clients.ts'),
    ]);
    const env = this.options.env;
    const account = await new AlicloudAccounts({
      credentials: () => credentialsFrom(undefined, env),
      env,
      region: () => this.alicloudRegion(),
    }).caller();
    return { account, partition: '' };
  }

  private cache(cloud: Cloud, roleName: string): CredentialCache<MemberCredentials> {
    let cache = this.caches.get(cloud);
    if (cache === undefined) {
      const env = this.options.env;
      cache = new CredentialCache<MemberCredentials>(async (account) => {
        if (cloud === 'aws') {
          const { AwsAccounts } = await import('../aws/accounts.ts');
          const { partition } = await this.ownAccount('aws');
          const c = await new AwsAccounts({ region: this.awsRegion() }).assume(account, roleName, partition);
          return { expiresAt: c.expiresAt, aws: c };
        }
        const [{ AlicloudAccounts }, { credentialsFrom }] = await Promise.all([
          import('../alicloud/accounts.ts'),
          import('../alicloud/clients.ts'),
        ]);
        const c = await new AlicloudAccounts({
          credentials: () => credentialsFrom(undefined, env),
          env,
          region: () => this.alicloudRegion(),
        }).assume(account, roleName);
        return { expiresAt: c.expiresAt, alicloud: c };
      });
      this.caches.set(cloud, cache);
    }
    return cache;
  }

  private async member(
    id: FunctionId,
    cloud: Cloud,
    account: string,
    roleName: string,
  ): Promise<AnyRemediator> {
    const cache = this.cache(cloud, roleName);
    await cache.get(account);
    const key = `${id}|${account}`;
    let member = this.members.get(key);
    if (member === undefined) {
      const current = () => {
        const c = cache.current(account);
        if (c === undefined) throw new CredentialsUnavailableError(account);
        return c;
      };
      if (cloud === 'aws') {
        const { logsClient } = await import('../aws/clients.ts');
        member = this.options.registry.create(id, {
          account,
          logsClient: (region) =>
            logsClient(region, {
              member: { account, credentials: current().aws as NonNullable<MemberCredentials['aws']> },
            }),
        });
      } else {
        member = this.options.registry.create(id, {
          account,
          credentials: () => current().alicloud as NonNullable<MemberCredentials['alicloud']>,
        });
      }
      this.members.set(key, member);
    }
    return member;
  }
}
