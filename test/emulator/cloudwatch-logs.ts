/**
 * CloudWatch Logs, emulated at the wire: AWS JSON 1.1 (`POST /`, `x-amz-target:
 * Logs_20140328.<Op>`, `content-type: application/x-amz-json-1.1`), SigV4 checked against the
 * dummy credentials (a mismatch is the service's own `InvalidSignatureException`), errors as
 * `{"__type": …, "message": …}` with `x-amzn-requestid` (as on success).
 *
 * Operations: DescribeLogGroups (logGroupIdentifiers, logGroupNamePrefix, limit, nextToken),
 * AssociateKmsKey, DisassociateKmsKey (the tamper event atrest restores), CreateLogGroup,
 * DeleteLogGroup. The emulator knows KMS keys: AssociateKmsKey
 * with an unknown or disabled key is InvalidParameterException; with a key whose policy does not
 * let CloudWatch Logs use it, AccessDeniedException — as the real service answers.
 *
 * Test extras: seedKey, seedLogGroup, logGroup, and lagReads (eventual consistency: the next n
 * reads of a group show its state from before the last write).
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  type AccountDirectory,
  type Answer,
  EmulatedService,
  nextRequestId,
  PerAccount,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';
import { DUMMY_CREDENTIALS, secretsOf, verifySigV4 } from './sigv4.ts';

/** The dummy credentials tests and the demo sign with (defined with the SigV4 verifier). */
export { DUMMY_CREDENTIALS };

const TARGET_PREFIX = 'Logs_20140328.';
const JSON_11 = 'application/x-amz-json-1.1';
const LOG_GROUP_NAME = /^[.\-_/#A-Za-z0-9]{1,512}$/;
const OPERATIONS = [
  'DescribeLogGroups',
  'AssociateKmsKey',
  'DisassociateKmsKey',
  'CreateLogGroup',
  'DeleteLogGroup',
] as const;
type Operation = (typeof OPERATIONS)[number];
const WRITES: ReadonlySet<string> = new Set([
  'AssociateKmsKey',
  'DisassociateKmsKey',
  'CreateLogGroup',
  'DeleteLogGroup',
]);

export interface KmsKeyOptions {
  /** Default true. A disabled key makes AssociateKmsKey fail with InvalidParameterException. */
  enabled?: boolean;
  /** Whether the key policy lets CloudWatch Logs use it. Default true; false → AccessDeniedException. */
  allowsLogs?: boolean;
}

interface KmsKey {
  arn: string;
  enabled: boolean;
  allowsLogs: boolean;
}

interface LogGroupRecord {
  name: string;
  creationTime: number;
  kmsKeyId?: string;
  /** The key before the last write, shown while `lag` > 0. */
  before?: string;
  lag: number;
}

/** What a test sees of a log group (always the current, never the lagged, state). */
export interface LogGroupView {
  name: string;
  arn: string;
  kmsKeyId?: string;
  creationTime: number;
}

export class CloudWatchLogsState {
  private readonly groups = new Map<string, LogGroupRecord>();
  private readonly keys = new Map<string, KmsKey>();

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  arnOf(name: string): string {
    return `arn:aws:logs:${this.region}:${this.account}:log-group:${name}`;
  }

  seedKey(arn: string, options: KmsKeyOptions = {}): this {
    this.keys.set(arn, { arn, enabled: options.enabled ?? true, allowsLogs: options.allowsLogs ?? true });
    return this;
  }

  seedLogGroup(name: string, kmsKeyId?: string): this {
    this.groups.set(name, {
      name,
      creationTime: Date.now(),
      ...(kmsKeyId !== undefined ? { kmsKeyId, before: kmsKeyId } : {}),
      lag: 0,
    });
    return this;
  }

  logGroup(name: string): LogGroupView | undefined {
    const g = this.groups.get(name);
    if (!g) return undefined;
    return {
      name,
      arn: this.arnOf(name),
      creationTime: g.creationTime,
      ...(g.kmsKeyId !== undefined ? { kmsKeyId: g.kmsKeyId } : {}),
    };
  }

  /** The next `reads` DescribeLogGroups answers that include this group show its state before the last write. */
  lagReads(name: string, reads: number): this {
    const g = this.groups.get(name);
    if (!g) throw new Error(`lagReads: no log group ${name}`);
    g.lag = reads;
    return this;
  }

  /** Internal: the record the API sees (undefined when absent). */
  record(name: string): LogGroupRecord | undefined {
    return this.groups.get(name);
  }

  key(arn: string): KmsKey | undefined {
    return this.keys.get(arn);
  }

  create(name: string, kmsKeyId?: string): void {
    this.seedLogGroup(name, kmsKeyId);
  }

  delete(name: string): boolean {
    return this.groups.delete(name);
  }

  names(): string[] {
    return [...this.groups.keys()].sort();
  }
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

const invalid = (message: string) => new ServiceFailure(400, 'InvalidParameterException', message);
const notFound = () =>
  new ServiceFailure(400, 'ResourceNotFoundException', 'The specified log group does not exist.');

type Body = Record<string, unknown>;

const optionalString = (body: Body, field: string): string | undefined => {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw new ServiceFailure(400, 'SerializationException', `${field}: expected a string`);
  return v;
};

const requiredName = (body: Body, field = 'logGroupName'): string => {
  const name = optionalString(body, field);
  if (name === undefined)
    throw invalid(
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  if (!LOG_GROUP_NAME.test(name))
    throw invalid(
      `1 validation error detected: Value '${name}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+`,
    );
  return name;
};

class CloudWatchLogsHandler implements ServiceHandler {
  readonly throttle = { status: 400, code: 'ThrottlingException' };

  constructor(
    private readonly states: PerAccount<CloudWatchLogsState>,
    private readonly secrets: ReadonlyMap<string, string>,
    private readonly directory: AccountDirectory | undefined,
  ) {}

  /** `<account>/<region>` of the key and scope a request was signed with (per-scope rate limits). */
  scope(ctx: RequestContext): string {
    const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(header(ctx.req.headers, 'authorization') ?? '');
    const account = this.directory?.accountOf(m?.[1] ?? '') ?? this.states.defaultAccount;
    return `${account}/${m?.[2] ?? ''}`;
  }

  /**
   * The state a request works on: the default account's for the base keys (whatever the signing
   * region, as before accounts existed), else the issuing account's in the signing region.
   */
  private stateFor(accessKeyId: string, region: string, token: string | undefined): CloudWatchLogsState {
    if (this.directory === undefined) return this.states.defaultState;
    const account = this.directory.admit(accessKeyId, token, {
      expired: () =>
        new ServiceFailure(
          400,
          'ExpiredTokenException',
          'The security token included in the request is expired',
        ),
      badToken: () =>
        new ServiceFailure(
          400,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        ),
    });
    return account === this.states.defaultAccount
      ? this.states.defaultState
      : this.states.of(`${account}/${region}`);
  }

  action(ctx: RequestContext): string {
    const target = header(ctx.req.headers, 'x-amz-target') ?? '';
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (!(OPERATIONS as readonly string[]).includes(op))
      throw new ServiceFailure(
        400,
        'UnknownOperationException',
        `unknown operation ${JSON.stringify(target)}`,
      );
    return op;
  }

  isWrite(action: string): boolean {
    return WRITES.has(action);
  }

  async handle(
    ctx: RequestContext,
    action: string,
    log: (resource: string, account?: string) => void,
  ): Promise<Answer> {
    if (ctx.req.method !== 'POST' || ctx.url.pathname !== '/')
      throw new ServiceFailure(400, 'UnknownOperationException', 'AWS JSON requests are POST /');
    const signer = await verifySigV4(ctx, this.secrets, 'logs');
    const state = this.stateFor(
      signer.accessKeyId,
      signer.region,
      header(ctx.req.headers, 'x-amz-security-token'),
    );
    const logAs = (resource: string) => log(resource, state.account);
    if (!(header(ctx.req.headers, 'content-type') ?? '').startsWith(JSON_11))
      throw new ServiceFailure(400, 'SerializationException', `content-type must be ${JSON_11}`);
    let body: Body;
    try {
      const parsed: unknown = JSON.parse(ctx.body.length > 0 ? ctx.body.toString('utf8') : '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as Body;
    } catch {
      throw new ServiceFailure(400, 'SerializationException', 'request body is not a JSON object');
    }
    const result = this.dispatch(action as Operation, body, logAs, state);
    return {
      status: 200,
      body: JSON.stringify(result),
      headers: { 'content-type': JSON_11, 'x-amzn-requestid': nextRequestId() },
    };
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return {
      status,
      body: JSON.stringify({ __type: code, message }),
      headers: { 'content-type': JSON_11, 'x-amzn-requestid': requestId },
    };
  }

  private dispatch(
    op: Operation,
    body: Body,
    log: (resource: string) => void,
    state: CloudWatchLogsState,
  ): unknown {
    switch (op) {
      case 'DescribeLogGroups':
        return this.describeLogGroups(body, log, state);
      case 'AssociateKmsKey':
        return this.associateKmsKey(body, log, state);
      case 'DisassociateKmsKey': {
        // API reference: logGroupName or resourceIdentifier, never both; the group falls back to
        // CloudWatch Logs' own encryption (no kmsKeyId in DescribeLogGroups).
        const hasName = body.logGroupName !== undefined;
        if (hasName === (body.resourceIdentifier !== undefined))
          throw invalid('Specify exactly one of logGroupName or resourceIdentifier');
        const name = hasName
          ? requiredName(body)
          : this.nameOf(optionalString(body, 'resourceIdentifier'), state);
        log(name);
        const g = state.record(name);
        if (!g) throw notFound();
        g.before = g.kmsKeyId;
        delete g.kmsKeyId;
        return {};
      }
      case 'CreateLogGroup':
        return this.createLogGroup(body, log, state);
      case 'DeleteLogGroup': {
        const name = requiredName(body);
        log(name);
        if (!state.delete(name)) throw notFound();
        return {};
      }
    }
  }

  private describeLogGroups(
    body: Body,
    log: (resource: string) => void,
    state: CloudWatchLogsState,
  ): unknown {
    const identifiers = body.logGroupIdentifiers;
    const prefix = optionalString(body, 'logGroupNamePrefix');
    const pattern = optionalString(body, 'logGroupNamePattern');
    const token = optionalString(body, 'nextToken');
    const limit = body.limit === undefined ? 50 : body.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 50)
      throw invalid('limit must be between 1 and 50');
    if (identifiers !== undefined && (prefix !== undefined || pattern !== undefined))
      throw invalid('logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern');
    if (prefix !== undefined && pattern !== undefined)
      throw invalid('logGroupNamePrefix and logGroupNamePattern are mutually exclusive');

    let names = state.names();
    if (identifiers !== undefined) {
      if (!Array.isArray(identifiers) || identifiers.length < 1 || identifiers.length > 50)
        throw invalid('logGroupIdentifiers must hold 1 to 50 items');
      const wanted = new Set(identifiers.map((id) => this.nameOf(id, state)));
      names = names.filter((n) => wanted.has(n));
      if (identifiers.length === 1) log(this.nameOf(identifiers[0], state));
    }
    if (prefix !== undefined) names = names.filter((n) => n.startsWith(prefix));
    if (pattern !== undefined) names = names.filter((n) => n.includes(pattern));
    if (token !== undefined) {
      const after = Buffer.from(token, 'base64url').toString('utf8');
      names = names.filter((n) => n > after);
    }
    const page = names.slice(0, limit);
    const more = names.length > page.length;
    const last = page.at(-1);
    return {
      logGroups: page.map((n) => this.describe(n, state)),
      ...(more && last !== undefined ? { nextToken: Buffer.from(last, 'utf8').toString('base64url') } : {}),
    };
  }

  /** One read of a group: the lagged state while `lagReads` has reads left. */
  private describe(name: string, state: CloudWatchLogsState): unknown {
    const g = state.record(name);
    if (!g) throw notFound();
    let kmsKeyId = g.kmsKeyId;
    if (g.lag > 0) {
      g.lag -= 1;
      kmsKeyId = g.before;
    }
    const arn = state.arnOf(name);
    return {
      logGroupName: name,
      creationTime: g.creationTime,
      metricFilterCount: 0,
      arn: `${arn}:*`,
      storedBytes: 0,
      ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
      logGroupClass: 'STANDARD',
      logGroupArn: arn,
    };
  }

  private associateKmsKey(body: Body, log: (resource: string) => void, state: CloudWatchLogsState): unknown {
    const hasName = body.logGroupName !== undefined;
    const hasArn = body.resourceIdentifier !== undefined;
    if (hasName === hasArn) throw invalid('Specify exactly one of logGroupName or resourceIdentifier');
    const name = hasName
      ? requiredName(body)
      : this.nameOf(optionalString(body, 'resourceIdentifier'), state);
    log(name);
    const kmsKeyId = optionalString(body, 'kmsKeyId');
    if (kmsKeyId === undefined) throw invalid("1 validation error detected: Value null at 'kmsKeyId'");
    const g = state.record(name);
    if (!g) throw notFound();
    this.checkKey(kmsKeyId, name, state);
    g.before = g.kmsKeyId;
    g.kmsKeyId = kmsKeyId;
    return {};
  }

  private createLogGroup(body: Body, log: (resource: string) => void, state: CloudWatchLogsState): unknown {
    const name = requiredName(body);
    log(name);
    if (state.record(name))
      throw new ServiceFailure(
        400,
        'ResourceAlreadyExistsException',
        'The specified log group already exists',
      );
    const kmsKeyId = optionalString(body, 'kmsKeyId');
    if (kmsKeyId !== undefined) this.checkKey(kmsKeyId, name, state);
    state.create(name, kmsKeyId);
    return {};
  }

  /** What the real service checks of a key, in its order: exists and enabled, then usable by Logs. */
  private checkKey(kmsKeyId: string, name: string, state: CloudWatchLogsState): void {
    const key = state.key(kmsKeyId);
    if (!key) throw invalid(`Specified KMS key ${kmsKeyId} does not exist.`);
    if (!key.enabled) throw invalid(`Specified KMS key ${kmsKeyId} is disabled.`);
    if (!key.allowsLogs)
      throw new ServiceFailure(
        400,
        'AccessDeniedException',
        `The specified KMS key does not exist or is not allowed to be used with Arn '${state.arnOf(name)}'`,
      );
  }

  /** A log group identifier: its name, or its ARN (with or without the trailing `:*`). */
  private nameOf(identifier: unknown, state: CloudWatchLogsState): string {
    if (typeof identifier !== 'string')
      throw new ServiceFailure(400, 'SerializationException', 'expected a string');
    const prefix = `arn:aws:logs:${state.region}:${state.account}:log-group:`;
    return identifier.startsWith(prefix) ? identifier.slice(prefix.length).replace(/:\*$/, '') : identifier;
  }
}

export interface StartCloudWatchLogsOptions {
  region?: string;
  account?: string;
  /** Access key id → secret the emulator accepts. Default: DUMMY_CREDENTIALS. */
  credentials?: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }>;
  /**
   * Accept the keys of this directory too (AWS STS issues them) and keep state per account and
   * region for them. The base keys above still reach `state`.
   */
  accounts?: AccountDirectory;
  port?: number;
}

/** Starts the emulator on a loopback port; point the SDK at it with `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = service.url`. */
export async function startCloudWatchLogs(options: StartCloudWatchLogsOptions = {}): Promise<{
  service: EmulatedService;
  state: CloudWatchLogsState;
  /** The state of `account` in `region` (keys issued by STS for that account). */
  stateOf: (account: string, region: string) => CloudWatchLogsState;
}> {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '111122223333';
  const state = new CloudWatchLogsState(region, account);
  const states = new PerAccount(account, state, (key) => {
    const [a = '', r = ''] = key.split('/');
    return new CloudWatchLogsState(r, a);
  });
  const secrets = secretsOf(options.credentials);
  if (options.accounts) {
    // The base keys stay valid and keep meaning the default account.
    for (const [id, secret] of secrets) options.accounts.addAws({ accessKeyId: id, secret, account });
  }
  const handler = new CloudWatchLogsHandler(
    states,
    options.accounts?.awsSecrets ?? secrets,
    options.accounts,
  );
  const service = new EmulatedService('logs', handler);
  await service.start(options.port ?? 0);
  const stateOf = (a: string, r: string) => (a === account ? state : states.of(`${a}/${r}`));
  return { service, state, stateOf };
}
