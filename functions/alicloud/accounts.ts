/**
 * Alibaba Cloud accounts (CONTRACT.md section 7): credentials for a member account through STS
 * `AssumeRole` on `acs:ram::<account>:role/<memberRoleName>`, and the caller's own account
 * through STS `GetCallerIdentity` (the CLI; Function Compute passes it in the context).
 *
 * STS (API version 2015-04-01) is an RPC product: the official @alicloud/sts20150401 SDK calls it
 * through @alicloud/openapi-client `callApi`; we send it as that client would, through the same
 * ACS3-signed RPC call we use for ECS (./openapi.ts), parameters in the query. It is called with the function's own credentials at `sts.aliyuncs.com` or
 * `ALIBABA_CLOUD_ENDPOINT_STS`. Errors are classified like every OpenAPI error, keeping STS's code
 * and request id (`NoPermission` when the role does not trust the caller, `EntityNotExist.Role`
 * when it does not exist).
 */
import { DeniedError, GoneError, InvalidError, type RemediationError } from '#core/errors';
import { ALICLOUD_ACCOUNT } from '#core/validation';
import type { AlicloudCredentials } from './clients.ts';
import { AlicloudApi, classifyAlicloud } from './openapi.ts';

export const STS_VERSION = '2015-04-01';
/** Names atrest in the member account's ActionTrail. */
export const SESSION_NAME = 'atrest';

export interface AlicloudSessionCredentials extends AlicloudCredentials {
  securityToken: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** `acs:ram::<account>:role/<name>`. */
export const memberRoleArn = (account: string, roleName: string): string =>
  `acs:ram::${account}:role/${roleName}`;

export interface AlicloudAccountsOptions {
  /** The caller's own credentials, asked per request. */
  credentials: () => AlicloudCredentials;
  env?: Record<string, string | undefined>;
  /** The region whose STS endpoint is used (the function's own). */
  region: () => string;
  /** Requested lifetime. Default 3600 s (a RAM role's default maximum session). */
  durationSeconds?: number;
}

export class AlicloudAccounts {
  private readonly api: AlicloudApi;

  constructor(private readonly options: AlicloudAccountsOptions) {
    this.api = new AlicloudApi({
      credentials: options.credentials,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  /** Credentials of `roleName` in `account`; throws a classified RemediationError. */
  async assume(account: string, roleName: string): Promise<AlicloudSessionCredentials> {
    if (!ALICLOUD_ACCOUNT.test(account))
      throw new InvalidError(`not an Alibaba Cloud account id: ${JSON.stringify(account)}`, {
        code: 'InvalidAccount',
      });
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.api.rpc('STS', this.options.region(), 'AssumeRole', STS_VERSION, {
        RoleArn: memberRoleArn(account, roleName),
        RoleSessionName: SESSION_NAME,
        DurationSeconds: String(this.options.durationSeconds ?? 3600),
      }));
    } catch (error) {
      throw stsError(error);
    }
    const c = body.Credentials as Record<string, unknown> | undefined;
    const expiresAt = typeof c?.Expiration === 'string' ? Date.parse(c.Expiration) : Number.NaN;
    if (
      typeof c?.AccessKeyId !== 'string' ||
      typeof c.AccessKeySecret !== 'string' ||
      typeof c.SecurityToken !== 'string' ||
      !Number.isFinite(expiresAt)
    )
      throw new DeniedError('AssumeRole answered without usable credentials', {
        code: 'UnexpectedResponse',
        ...(typeof body.RequestId === 'string' ? { requestId: body.RequestId } : {}),
      });
    return {
      accessKeyId: c.AccessKeyId,
      accessKeySecret: c.AccessKeySecret,
      securityToken: c.SecurityToken,
      expiresAt,
    };
  }

  /** The caller's own account (GetCallerIdentity `AccountId`). */
  async caller(): Promise<string> {
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.api.rpc('STS', this.options.region(), 'GetCallerIdentity', STS_VERSION, {}));
    } catch (error) {
      throw classifyAlicloud(error);
    }
    const account = body.AccountId;
    if (typeof account !== 'string' || !ALICLOUD_ACCOUNT.test(account))
      throw new DeniedError('GetCallerIdentity answered without an account', { code: 'UnexpectedResponse' });
    return account;
  }
}

/** STS's "no such role" (404 `EntityNotExist.Role`) is a refusal, not a resource that is gone. */
function stsError(error: unknown): RemediationError {
  const classified = classifyAlicloud(error);
  return classified instanceof GoneError
    ? new DeniedError(classified.message, classified, { cause: error })
    : classified;
}
