/**
 * Emulated OSS Tables: ListTableBuckets, GetTableBucketEncryption and PutTableBucketEncryption on
 * their documented paths (`/buckets`, `/buckets/<url-encoded bucket ARN>/encryption`, path style),
 * OSS4-HMAC-SHA256 signed with product `osstables`, table buckets and their default encryption in
 * memory.
 *
 * The signature is rebuilt here from what arrived, following the Python SDK v2 Tables signer:
 * canonical URI = quote("/<bucket ARN>/<decoded request path>"), or with no bucket
 * "/acs:osstables:<region>::bucket//buckets". Errors: JSON `{"code","message"}` with
 * `x-oss-request-id` and `x-oss-ec` (the Go SDK's Tables tests show JSON error bodies; the
 * `code` field is this emulator's addition, the client also copes without it).
 *
 * A bucket without encryption answers GetTableBucketEncryption per `missingEncryption`: `empty`
 * (200 with an empty configuration, as ossutil describes) or `notFound` (404). UNCONFIRMED which.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { perAccountAlicloud } from './accounts.ts';
import { type Acs3Credential, EMULATOR_CREDENTIALS } from './acs3.ts';
import {
  type AccountDirectory,
  type Answer,
  EmulatedService,
  nextRequestId,
  type PerAccount,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

export interface TableBucketState {
  arn: string;
  name: string;
  region: string;
  account: string;
  createdAt: string;
  encryption?: { sseAlgorithm: string; kmsKeyArn?: string };
}

export class OssTablesState {
  readonly buckets = new Map<string, TableBucketState>();

  /** Adds (or replaces) a table bucket; returns it. Defaults: cn-hangzhou, account 1234567890123456. */
  seedBucket(
    name: string,
    options: { region?: string; account?: string; encryption?: TableBucketState['encryption'] } = {},
  ): TableBucketState {
    const region = options.region ?? 'cn-hangzhou';
    const account = options.account ?? '1234567890123456';
    const arn = `acs:osstables:${region}:${account}:bucket/${name}`;
    const bucket: TableBucketState = {
      arn,
      name,
      region,
      account,
      createdAt: new Date().toISOString(),
      ...(options.encryption ? { encryption: { ...options.encryption } } : {}),
    };
    this.buckets.set(arn, bucket);
    return bucket;
  }

  bucket(arn: string): TableBucketState | undefined {
    return this.buckets.get(arn);
  }

  deleteBucket(arn: string): void {
    this.buckets.delete(arn);
  }
}

export interface OssTablesEmulatorOptions {
  credentials?: Acs3Credential[];
  /** Keep buckets per account for the keys of this directory (Alibaba Cloud STS issues them). */
  accounts?: AccountDirectory;
  /** How a bucket without encryption answers GetTableBucketEncryption. Default `empty`. */
  missingEncryption?: 'empty' | 'notFound';
  now?: () => number;
  port?: number;
}

/** Python's quote(s, safe='/'): RFC 3986 unreserved characters and `/` stay. */
const quotePath = (s: string): string =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%2F', '/');

const headerOf = (ctx: RequestContext, name: string): string | undefined => {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

const json = (status: number, body: unknown, requestId = nextRequestId()): Answer => ({
  status,
  body: body === undefined ? '' : JSON.stringify(body),
  headers: { 'content-type': 'application/json', 'x-oss-request-id': requestId },
});

const AUTH =
  /^OSS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z]+)\/aliyun_v4_request,Signature=([0-9a-f]{64})$/;

class OssTablesHandler implements ServiceHandler {
  readonly throttle = { status: 429, code: 'TooManyRequests' };
  private readonly credentials: Acs3Credential[];
  private readonly now: () => number;
  private readonly missing: 'empty' | 'notFound';

  constructor(
    private readonly state: OssTablesState,
    options: OssTablesEmulatorOptions,
  ) {
    this.credentials = options.credentials ?? [EMULATOR_CREDENTIALS];
    this.now = options.now ?? Date.now;
    this.missing = options.missingEncryption ?? 'empty';
  }

  action(ctx: RequestContext): string {
    const path = rawPath(ctx);
    const method = ctx.req.method ?? 'GET';
    if (method === 'GET' && path === '/buckets') return 'ListTableBuckets';
    if (/^\/buckets\/[^/]+\/encryption$/.test(path)) {
      if (method === 'GET') return 'GetTableBucketEncryption';
      if (method === 'PUT') return 'PutTableBucketEncryption';
      if (method === 'DELETE') return 'DeleteTableBucketEncryption';
    }
    return `Unsupported:${method} ${path.slice(0, 100)}`;
  }

  isWrite(action: string): boolean {
    return action === 'PutTableBucketEncryption' || action === 'DeleteTableBucketEncryption';
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    const answer = json(status, { code, message }, requestId);
    return { ...answer, headers: { ...answer.headers, 'x-oss-ec': '0016-00000000' } };
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    const path = rawPath(ctx);
    const arn = action === 'ListTableBuckets' ? undefined : decodeURIComponent(path.split('/')[2] ?? '');
    this.verify(ctx, path, arn);
    if (action.startsWith('Unsupported:'))
      throw new ServiceFailure(400, 'InvalidRequest', `unsupported API ${action.slice(12)}`);
    if (action === 'ListTableBuckets') return this.list(ctx);
    log(arn ?? '');
    const bucket = arn === undefined ? undefined : this.state.bucket(arn);
    if (!bucket) throw new ServiceFailure(404, 'NoSuchBucket', 'The specified bucket does not exist.');
    if (action === 'GetTableBucketEncryption') {
      if (!bucket.encryption && this.missing === 'notFound')
        throw new ServiceFailure(
          404,
          'NoSuchTableBucketEncryption',
          'The table bucket has no encryption configuration.',
        );
      return json(200, {
        encryptionConfiguration: bucket.encryption
          ? { sseAlgorithm: bucket.encryption.sseAlgorithm, kmsKeyArn: bucket.encryption.kmsKeyArn ?? '' }
          : {},
      });
    }
    if (action === 'DeleteTableBucketEncryption') {
      // API reference: 204 No Content; the bucket keeps no default encryption configuration.
      delete bucket.encryption;
      return json(204, undefined);
    }
    bucket.encryption = parseEncryption(ctx.body);
    return json(200, undefined);
  }

  private list(ctx: RequestContext): Answer {
    const max = Number(ctx.url.searchParams.get('maxBuckets') ?? '1000');
    if (!Number.isInteger(max) || max < 1 || max > 1000)
      throw new ServiceFailure(400, 'InvalidArgument', 'maxBuckets must be 1..1000');
    const token = ctx.url.searchParams.get('continuationToken');
    const all = [...this.state.buckets.values()].sort((a, b) => a.arn.localeCompare(b.arn));
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
    if (!Number.isInteger(start) || start < 0)
      throw new ServiceFailure(400, 'InvalidArgument', 'bad continuationToken');
    const slice = all.slice(start, start + max);
    const next = start + slice.length;
    return json(200, {
      tableBuckets: slice.map((b) => ({
        arn: b.arn,
        name: b.name,
        ownerAccountId: b.account,
        createdAt: b.createdAt,
        tableBucketId: createHash('md5').update(b.arn).digest('hex').slice(0, 16),
        type: 'customer',
      })),
      ...(next < all.length ? { continuationToken: Buffer.from(String(next)).toString('base64url') } : {}),
    });
  }

  private verify(ctx: RequestContext, path: string, bucketArn: string | undefined): void {
    const auth = headerOf(ctx, 'authorization');
    const m = auth ? AUTH.exec(auth) : null;
    if (!m)
      throw new ServiceFailure(403, 'AccessDenied', 'missing or malformed OSS4-HMAC-SHA256 authorization');
    const [, accessKeyId = '', day = '', region = '', product = '', signature = ''] = m;
    const credential = this.credentials.find((c) => c.accessKeyId === accessKeyId);
    if (!credential)
      throw new ServiceFailure(
        403,
        'InvalidAccessKeyId',
        'The OSS Access Key Id you provided does not exist in our records.',
      );
    if (product !== 'osstables')
      throw new ServiceFailure(403, 'SignatureDoesNotMatch', `wrong product ${product} in scope`);
    // The endpoint serves the bucket's region; a scope naming another region cannot be valid.
    const arnRegion = bucketArn?.split(':')[2];
    if (arnRegion !== undefined && arnRegion !== region)
      throw new ServiceFailure(
        403,
        'SignatureDoesNotMatch',
        `credential scope region ${region} is not ${arnRegion}`,
      );
    if (
      credential.securityToken !== undefined &&
      headerOf(ctx, 'x-oss-security-token') !== credential.securityToken
    )
      throw new ServiceFailure(403, 'InvalidSecurityToken', 'The security token you provided is invalid.');
    const stamp = headerOf(ctx, 'x-oss-date') ?? '';
    const at = Date.parse(
      stamp.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (Number.isNaN(at) || stamp.slice(0, 8) !== day)
      throw new ServiceFailure(
        403,
        'AccessDenied',
        'x-oss-date missing or not matching the credential scope',
      );
    if (Math.abs(this.now() - at) > 15 * 60_000)
      throw new ServiceFailure(
        403,
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
      );
    const md5 = headerOf(ctx, 'content-md5');
    if (md5 !== undefined && md5 !== createHash('md5').update(ctx.body).digest('base64'))
      throw new ServiceFailure(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');

    const key = decodeURIComponent(path.slice(1));
    const bucket = bucketArn ?? `acs:osstables:${region}::bucket/`;
    const canonicalUri = quotePath(`/${bucket}/${key}`);
    const pairs: Array<[string, string]> = [];
    const rawQuery = (ctx.req.url ?? '').split('?')[1];
    for (const part of rawQuery ? rawQuery.split('&') : []) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      pairs.push(eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]);
    }
    pairs.sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1));
    const canonicalQuery = pairs.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&');
    const canonicalHeaders = Object.keys(ctx.req.headers)
      .filter((k) => k.startsWith('x-oss-') || k === 'content-type' || k === 'content-md5')
      .sort()
      .map((k) => `${k}:${headerOf(ctx, k)}\n`)
      .join('');
    const payload = headerOf(ctx, 'x-oss-content-sha256') ?? 'UNSIGNED-PAYLOAD';
    const canonical = [ctx.req.method, canonicalUri, canonicalQuery, canonicalHeaders, '', payload].join(
      '\n',
    );
    const scope = `${day}/${region}/${product}/aliyun_v4_request`;
    const toSign = [
      'OSS4-HMAC-SHA256',
      stamp,
      scope,
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n');
    const h = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d).digest();
    const signingKey = h(
      h(h(h(`aliyun_v4${credential.accessKeySecret}`, day), region), product),
      'aliyun_v4_request',
    );
    const expected = createHmac('sha256', signingKey).update(toSign).digest();
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new ServiceFailure(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
  }
}

/** The path exactly as sent (still percent-encoded: the bucket ARN segment contains %3A and %2F). */
const rawPath = (ctx: RequestContext): string => (ctx.req.url ?? '/').split('?')[0] ?? '/';

function parseEncryption(body: Buffer): NonNullable<TableBucketState['encryption']> {
  let parsed: { encryptionConfiguration?: { sseAlgorithm?: unknown; kmsKeyArn?: unknown } };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw new ServiceFailure(400, 'MalformedJSON', 'The JSON you provided was not well-formed.');
  }
  const conf = parsed?.encryptionConfiguration;
  const algorithm = conf?.sseAlgorithm;
  if (algorithm !== 'AES256' && algorithm !== 'KMS')
    throw new ServiceFailure(400, 'InvalidArgument', `unsupported sseAlgorithm ${JSON.stringify(algorithm)}`);
  const kmsKeyArn = typeof conf?.kmsKeyArn === 'string' && conf.kmsKeyArn !== '' ? conf.kmsKeyArn : undefined;
  if (algorithm === 'KMS' && kmsKeyArn === undefined)
    throw new ServiceFailure(400, 'InvalidArgument', 'kmsKeyArn is required with sseAlgorithm KMS');
  return { sseAlgorithm: algorithm, ...(kmsKeyArn ? { kmsKeyArn } : {}) };
}

export interface OssTablesEmulator {
  service: EmulatedService;
  /** `http://127.0.0.1:<port>`: the value for `ALIBABA_CLOUD_ENDPOINT_OSS_TABLES`. */
  url: string;
  state: OssTablesState;
  /** The buckets of each account; `state` is the default account's. */
  states: PerAccount<OssTablesState>;
  stop(): Promise<void>;
}

/** Starts the OSS Tables emulator on a loopback port; point `ALIBABA_CLOUD_ENDPOINT_OSS_TABLES` at `url`. */
export async function startOssTables(options: OssTablesEmulatorOptions = {}): Promise<OssTablesEmulator> {
  const state = new OssTablesState();
  const { handler, states } = perAccountAlicloud({
    accounts: options.accounts,
    credentials: options.credentials,
    state,
    makeState: () => new OssTablesState(),
    makeHandler: (s, credentials) =>
      new OssTablesHandler(s, { ...options, ...(credentials ? { credentials } : {}) }),
  });
  const service = new EmulatedService('oss-tables', handler);
  const url = await service.start(options.port);
  return { service, url, state, states, stop: () => service.stop() };
}
