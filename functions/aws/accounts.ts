/**
 * AWS accounts (CONTRACT.md section 7): the function's own account, and credentials for a member
 * account through STS AssumeRole on `arn:<partition>:iam::<account>:role/<memberRoleName>`.
 *
 * Own account: Lambda, from the invoked function ARN (`arn:aws:lambda:<region>:<account>:function:…`);
 * the CLI, from STS GetCallerIdentity, once per run. STS is called with the function's own
 * credentials (the SDK's default chain), in the function's region, at the SDK's own endpoint or
 * `AWS_ENDPOINT_URL_STS`. STS errors are classified like every AWS error: AccessDenied (the
 * member role is missing or does not trust this function) ends `failed` with STS's code and
 * request id, throttling is retried by the engine.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import { DeniedError } from '#core/errors';
import { AWS_ACCOUNT, AWS_REGION } from '#core/validation';
import { classifyAwsError } from './errors.ts';
import { boundedClient } from './http.ts';

/** Session credentials with their expiry (ms since the epoch), for CredentialCache. */
export interface AwsSessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

const FUNCTION_ARN = /^arn:(aws[a-z-]*):lambda:[a-z0-9-]+:(\d{12}):function:/;

/** The account and partition in a Lambda function ARN (`context.invokedFunctionArn`). */
export function accountOfFunctionArn(
  arn: string | undefined,
): { account: string; partition: string } | undefined {
  const m = FUNCTION_ARN.exec(arn ?? '');
  return m ? { partition: m[1] ?? 'aws', account: m[2] ?? '' } : undefined;
}

/** `arn:<partition>:iam::<account>:role/<name>`. */
const memberRoleArn = (partition: string, account: string, roleName: string): string =>
  `arn:${partition}:iam::${account}:role/${roleName}`;

/** STS's `RoleSessionName`: names the function in the member's CloudTrail. */
const SESSION_NAME = 'atrest';

export interface AwsAccountsOptions {
  /** The region STS is called in (the function's own). */
  region: string;
  /** Requested credential lifetime. Default 3600 s (STS's default and, for role chaining, its maximum). */
  durationSeconds?: number;
  /** For tests: a ready client. */
  client?: STSClient;
}

/** @aws-sdk/client-sts, loaded by the first STS call. */
const sdk = () => import('@aws-sdk/client-sts');

/** STS for one process: AssumeRole per member account, GetCallerIdentity for the CLI. */
export class AwsAccounts {
  private client?: STSClient;
  private readonly duration: number;

  constructor(private readonly options: AwsAccountsOptions) {
    this.duration = options.durationSeconds ?? 3600;
    if (options.client) this.client = options.client;
  }

  private async sts(): Promise<STSClient> {
    if (!AWS_REGION.test(this.options.region))
      throw new DeniedError(`region ${JSON.stringify(this.options.region)} is not a region`, {
        code: 'InvalidRegion',
      });
    // Made on first use, and the SDK client loaded then (a chunk of its own in the Lambda bundle):
    // a single-account deployment never compiles it at cold start nor opens an STS connection.
    const { STSClient } = await sdk();
    this.client ??= boundedClient(
      { deadlineMs: 10_000 },
      (settings) => new STSClient({ region: this.options.region, ...settings }),
    );
    return this.client;
  }

  /** Credentials of `roleName` in `account`; throws a classified RemediationError. */
  async assume(account: string, roleName: string, partition: string): Promise<AwsSessionCredentials> {
    if (!AWS_ACCOUNT.test(account))
      throw new DeniedError(`not an AWS account id: ${JSON.stringify(account)}`, { code: 'InvalidAccount' });
    try {
      const { AssumeRoleCommand } = await sdk();
      const out = await (await this.sts()).send(
        new AssumeRoleCommand({
          RoleArn: memberRoleArn(partition, account, roleName),
          RoleSessionName: SESSION_NAME,
          DurationSeconds: this.duration,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
        throw new DeniedError('AssumeRole answered without credentials', {
          code: 'UnexpectedResponse',
          ...(out.$metadata.requestId ? { requestId: out.$metadata.requestId } : {}),
        });
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiresAt: c.Expiration.getTime(),
      };
    } catch (error) {
      throw classifyAwsError(error);
    }
  }

  /** The caller's own account and partition (GetCallerIdentity). */
  async caller(): Promise<{ account: string; partition: string }> {
    try {
      const { GetCallerIdentityCommand } = await sdk();
      const out = await (await this.sts()).send(new GetCallerIdentityCommand({}));
      const account = out.Account ?? '';
      if (!AWS_ACCOUNT.test(account))
        throw new DeniedError('GetCallerIdentity answered without an account', {
          code: 'UnexpectedResponse',
        });
      const partition = /^arn:(aws[a-z-]*):/.exec(out.Arn ?? '')?.[1] ?? 'aws';
      return { account, partition };
    } catch (error) {
      throw classifyAwsError(error);
    }
  }
}
