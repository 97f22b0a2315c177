/**
 * Alibaba Cloud STS (RPC API 2015-04-01), emulated at the wire as @alicloud/openapi-client sends
 * it (the client the official @alicloud/sts20150401 SDK is built on): ACS3-signed, the action in
 * `x-acs-action`, the version in `x-acs-version`, parameters in the query. Answers the documented
 * shapes: AssumeRole `{RequestId, AssumedRoleUser:{Arn, AssumedRoleId}, Credentials:{AccessKeyId,
 * AccessKeySecret, SecurityToken, Expiration}}`, GetCallerIdentity `{AccountId, UserId, Arn,
 * IdentityType, PrincipalId, RequestId}`; errors as RPC `{RequestId, HostId, Code, Message}`.
 *
 * AssumeRole issues an `STS.`-prefixed key with a security token for the role's account into the
 * AccountDirectory: every Alibaba Cloud fake sharing it accepts the key and serves that account's
 * state. A role must be seeded; an unknown role is 404 `EntityNotExist.Role`, a role whose trust
 * policy does not name the caller (`deny`) 403 `NoPermission`.
 */
import { randomBytes } from 'node:crypto';
import { STS_TOKEN_ERRORS } from './accounts.ts';
import { EMULATOR_CREDENTIALS, type RpcCaller, RpcHandler } from './acs3.ts';
import {
  type AccountDirectory,
  alicloudKeyOf,
  type RequestContext,
  type RoleIssuer,
  ServiceFailure,
  type StsFake,
  startStsFake,
} from './harness.ts';

const VERSION = '2015-04-01';
const ROLE_ARN = /^acs:ram::(\d{1,20}):role\/([A-Za-z0-9.-]{1,64})$/;

export interface AlicloudRoleRecord {
  /** The role's trust policy does not name the caller: 403 NoPermission. */
  deny?: boolean;
}

class AlicloudStsHandler extends RpcHandler implements RoleIssuer<AlicloudRoleRecord> {
  readonly roles = new Map<string, AlicloudRoleRecord>();
  issued = 0;

  constructor(private readonly directory: AccountDirectory) {
    super(
      { version: VERSION, host: 'sts.aliyuncs.com', actions: ['GetCallerIdentity', 'AssumeRole'] },
      directory.alicloudCredentials,
    );
  }

  roleKey(account: string, roleName: string): string {
    return `${account}/${roleName.toLowerCase()}`;
  }

  protected override admit(ctx: RequestContext, accessKeyId: string): string {
    return this.directory.admit(accessKeyId, alicloudKeyOf(ctx).token, STS_TOKEN_ERRORS);
  }

  protected answer(
    action: string,
    query: URLSearchParams,
    log: (resource: string, account?: string) => void,
    { accessKeyId, account: caller = '' }: RpcCaller,
  ) {
    if (action === 'GetCallerIdentity') {
      log(accessKeyId, caller);
      const key = this.directory.key(accessKeyId);
      return {
        AccountId: caller,
        UserId: `emulator-${caller}`,
        PrincipalId: `emulator-${caller}`,
        IdentityType: key?.principal ? 'AssumedRoleUser' : 'Account',
        Arn: key?.principal ?? `acs:ram::${caller}:root`,
      };
    }
    const roleArn = query.get('RoleArn') ?? '';
    const session = query.get('RoleSessionName') ?? '';
    const m = ROLE_ARN.exec(roleArn);
    if (!m)
      throw new ServiceFailure(400, 'InvalidParameter.RoleArn', 'The parameter RoleArn is wrongly formed.');
    if (!/^[A-Za-z0-9.@_-]{2,64}$/.test(session))
      throw new ServiceFailure(
        400,
        'InvalidParameter.RoleSessionName',
        'The parameter RoleSessionName is wrongly formed.',
      );
    const duration = Number(query.get('DurationSeconds') ?? '3600');
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200)
      throw new ServiceFailure(
        400,
        'InvalidParameter.DurationSeconds',
        'The DurationSeconds is out of range.',
      );
    const [, account = '', roleName = ''] = m;
    log(roleArn, account);
    const role = this.roles.get(this.roleKey(account, roleName));
    if (role === undefined) throw new ServiceFailure(404, 'EntityNotExist.Role', 'The role not exists.');
    if (role.deny)
      throw new ServiceFailure(
        403,
        'NoPermission',
        'You are not authorized to do this action. You should be authorized by RAM.',
      );
    this.issued += 1;
    const accessKeyId2 = `STS.${randomBytes(12).toString('hex')}`;
    const secret = randomBytes(20).toString('base64');
    const token = randomBytes(48).toString('base64');
    const expiresAt = this.directory.now() + duration * 1000;
    const principal = `acs:ram::${account}:assumed-role/${roleName}/${session}`;
    this.directory.addAlicloud({ accessKeyId: accessKeyId2, secret, token, account, expiresAt, principal });
    return {
      AssumedRoleUser: { Arn: principal, AssumedRoleId: `3${account.slice(0, 6)}:${session}` },
      Credentials: {
        AccessKeyId: accessKeyId2,
        AccessKeySecret: secret,
        SecurityToken: token,
        Expiration: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  }
}

/** `seedRole` makes `acs:ram::<account>:role/<roleName>` assumable (or, with `deny`, refused). */
export type AlicloudStsEmulator = StsFake<AlicloudRoleRecord>;

/**
 * Starts Alibaba Cloud STS on a loopback port, issuing keys into `directory`. The emulator's base
 * key (EMULATOR_CREDENTIALS) is the default account's caller unless `credentials` say otherwise.
 */
export async function startAlicloudSts(
  directory: AccountDirectory,
  options: { port?: number; credentials?: (typeof EMULATOR_CREDENTIALS)[] } = {},
): Promise<AlicloudStsEmulator> {
  for (const c of options.credentials ?? [EMULATOR_CREDENTIALS])
    if (directory.key(c.accessKeyId) === undefined)
      directory.addAlicloud({
        accessKeyId: c.accessKeyId,
        secret: c.accessKeySecret,
        ...(c.securityToken !== undefined ? { token: c.securityToken } : {}),
        account: directory.defaultAccount,
      });
  return startStsFake(new AlicloudStsHandler(directory), options.port);
}
