/**
 * AWS STS, emulated at the wire: the Query protocol @aws-sdk/client-sts speaks (`POST /`, form
 * body `Action=…&Version=2011-06-15&…`, SigV4 for signing name `sts`), answers in XML
 * (`<AssumeRoleResponse><AssumeRoleResult><Credentials>…`), errors as
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` with
 * `x-amzn-requestid` — the shapes of the STS API reference (AssumeRole, GetCallerIdentity).
 *
 * AssumeRole issues a fresh key for the role's account into the AccountDirectory, so every AWS
 * fake that shares the directory accepts it and serves that account's state. A role must be
 * seeded (`seedRole`); an unknown role, or one marked `deny`, answers 403 `AccessDenied` as STS
 * does when the role does not exist or its trust policy does not name the caller.
 */
import { randomBytes } from 'node:crypto';
import {
  type AccountDirectory,
  type Answer,
  nextRequestId,
  type RequestContext,
  type RoleIssuer,
  ServiceFailure,
  type StsFake,
  startStsFake,
} from './harness.ts';
import { header, verifySigV4 } from './sigv4.ts';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/([\w+=,.@/-]{1,64})$/;

export interface RoleRecord {
  /** Default false: AssumeRole answers AccessDenied (trust policy does not name the caller). */
  deny?: boolean;
}

const xmlEscape = (value: string): string =>
  value.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

const xml = (status: number, body: string, requestId: string): Answer => ({
  status,
  body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
  headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
});

class StsHandler implements RoleIssuer<RoleRecord> {
  readonly throttle = { status: 400, code: 'Throttling' };
  readonly roles = new Map<string, RoleRecord>();
  /** Credential lifetime when the caller does not ask for one (STS: 3600 s). */
  issued = 0;

  constructor(private readonly directory: AccountDirectory) {}

  roleKey(account: string, roleName: string): string {
    return `${account}/${roleName}`;
  }

  action(ctx: RequestContext): string {
    const form = new URLSearchParams(ctx.body.toString('utf8'));
    return form.get('Action') ?? ctx.url.searchParams.get('Action') ?? 'Unknown';
  }

  isWrite(): boolean {
    return false;
  }

  async handle(ctx: RequestContext, action: string, log: (resource: string, account?: string) => void) {
    if (ctx.req.method !== 'POST')
      throw new ServiceFailure(400, 'InvalidAction', 'STS Query requests are POST');
    const { accessKeyId } = await verifySigV4(ctx, this.directory.awsSecrets, 'sts');
    const caller = this.directory.admit(accessKeyId, header(ctx.req.headers, 'x-amz-security-token'), {
      expired: () =>
        new ServiceFailure(400, 'ExpiredToken', 'The security token included in the request is expired'),
      badToken: () =>
        new ServiceFailure(
          403,
          'InvalidClientTokenId',
          'The security token included in the request is invalid.',
        ),
    });
    const form = new URLSearchParams(ctx.body.toString('utf8'));
    if (form.get('Version') !== '2011-06-15')
      throw new ServiceFailure(400, 'InvalidParameterValue', 'Version must be 2011-06-15');
    const requestId = nextRequestId();
    switch (action) {
      case 'GetCallerIdentity': {
        log(accessKeyId, caller);
        const key = this.directory.key(accessKeyId);
        const arn = key?.principal ?? `arn:aws:iam::${caller}:user/emulator`;
        return xml(
          200,
          `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult><Arn>${xmlEscape(arn)}</Arn><UserId>AIDAEMULATOR:${caller}</UserId><Account>${caller}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
          requestId,
        );
      }
      case 'AssumeRole':
        return this.assumeRole(form, caller, requestId, log);
      default:
        throw new ServiceFailure(
          400,
          'InvalidAction',
          `Could not find operation ${action} for version 2011-06-15`,
        );
    }
  }

  private assumeRole(
    form: URLSearchParams,
    caller: string,
    requestId: string,
    log: (resource: string, account?: string) => void,
  ): Answer {
    const roleArn = form.get('RoleArn') ?? '';
    const session = form.get('RoleSessionName') ?? '';
    const m = ROLE_ARN.exec(roleArn);
    if (!m) throw new ServiceFailure(400, 'ValidationError', `${roleArn} is invalid`);
    if (!/^[\w+=,.@-]{2,64}$/.test(session))
      throw new ServiceFailure(400, 'ValidationError', 'RoleSessionName must satisfy [\\w+=,.@-]{2,64}');
    const duration = Number(form.get('DurationSeconds') ?? '3600');
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200)
      throw new ServiceFailure(400, 'ValidationError', 'DurationSeconds must be 900..43200');
    const [, partition = 'aws', account = '', roleName = ''] = m;
    log(roleArn, account);
    const role = this.roles.get(this.roleKey(account, roleName));
    if (role === undefined || role.deny)
      throw new ServiceFailure(
        403,
        'AccessDenied',
        `User: arn:aws:sts::${caller}:assumed-role/atrest/central is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    this.issued += 1;
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const secret = randomBytes(20).toString('base64');
    const token = randomBytes(32).toString('base64');
    const expiresAt = this.directory.now() + duration * 1000;
    const principal = `arn:${partition}:sts::${account}:assumed-role/${roleName}/${session}`;
    this.directory.addAws({ accessKeyId, secret, token, account, expiresAt, principal });
    const expiration = new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return xml(
      200,
      `<AssumeRoleResponse xmlns="${NS}"><AssumeRoleResult><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(secret)}</SecretAccessKey><SessionToken>${xmlEscape(token)}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAEMULATOR:${xmlEscape(session)}</AssumedRoleId><Arn>${xmlEscape(principal)}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      requestId,
    );
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    const type = status >= 500 ? 'Receiver' : 'Sender';
    return xml(
      status,
      `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      requestId,
    );
  }
}

/** `seedRole` makes `arn:aws:iam::<account>:role/<roleName>` assumable (or, with `deny`, refused). */
export type StsEmulator = StsFake<RoleRecord>;

/** Starts AWS STS on a loopback port, issuing keys into `directory`. */
export function startSts(directory: AccountDirectory, options: { port?: number } = {}): Promise<StsEmulator> {
  return startStsFake(new StsHandler(directory), options.port);
}
