/**
 * AWS Signature Version 4, checked from the server's side for every emulated AWS service
 * (CloudWatch Logs, Lambda, KMS): the signature is recomputed with the known secret over the
 * request as received (method, path, query, the signed headers, the body) by
 * @smithy/signature-v4, and compared with the one sent. A mismatch is answered with the service's
 * own error code through ServiceFailure, so each service keeps its own error shape. Only the headers
 * the client signed are verified: `x-amz-content-sha256` is optional, as on real AWS JSON services.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  type Answer,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

/** The dummy credentials tests and the demo sign with. */
export const DUMMY_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
} as const;

/** node:crypto behind the Hash interface @smithy/signature-v4 expects. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const toBuffer = (data: ArrayBuffer | ArrayBufferView): Buffer =>
  ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(new Uint8Array(data));

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

export const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** `20261122T091407Z` → Date. */
const parseAmzDate = (value: string): Date | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
};

export interface SigV4Result {
  accessKeyId: string;
  /** The region the request was signed for (the credential scope). */
  region: string;
}

/**
 * Recomputes the SigV4 signature with the known secret and compares it to the one sent; throws
 * the ServiceFailure AWS answers otherwise. `service` is the signing name the real service
 * expects (`logs`, `lambda`, `kms`): a request signed for another service is refused too.
 */
export async function verifySigV4(
  ctx: RequestContext,
  secrets: ReadonlyMap<string, string>,
  service: string,
): Promise<SigV4Result> {
  const authorization = header(ctx.req.headers, 'authorization');
  if (!authorization)
    throw new ServiceFailure(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = AUTH.exec(authorization);
  if (!m) throw new ServiceFailure(400, 'IncompleteSignatureException', 'Authorization header is malformed');
  const [, accessKeyId = '', , region = '', signedService = '', signedHeaders = '', signature = ''] = m;
  const secret = secrets.get(accessKeyId);
  if (secret === undefined)
    throw new ServiceFailure(
      400,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  const signingDate = parseAmzDate(header(ctx.req.headers, 'x-amz-date') ?? '');
  if (!signingDate)
    throw new ServiceFailure(400, 'IncompleteSignatureException', 'X-Amz-Date is missing or malformed');

  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) {
    const value = header(ctx.req.headers, name);
    if (value === undefined)
      throw new ServiceFailure(400, 'IncompleteSignatureException', `signed header ${name} is missing`);
    headers[name] = value;
  }
  const sessionToken = header(ctx.req.headers, 'x-amz-security-token');
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret, ...(sessionToken ? { sessionToken } : {}) },
    region,
    service: signedService,
    sha256: Sha256,
    // Never add x-amz-content-sha256 to what is verified: botocore and the AWS CLI do not send it to
    // JSON services, and AWS accepts their requests. The payload hash is then computed from the body.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: ctx.req.method ?? 'POST',
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: ctx.url.pathname,
      query: Object.fromEntries(ctx.url.searchParams),
      headers,
      body: ctx.body,
    },
    {
      signingDate,
      signingRegion: region,
      signingService: signedService,
      signableHeaders: new Set(Object.keys(headers)),
    },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization ?? '')?.[1];
  if (signedService !== service || expected !== signature)
    throw new ServiceFailure(
      400,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  return { accessKeyId, region };
}

/** Access key id → secret, the form verifySigV4 looks secrets up in; default: the dummy pair. */
export const secretsOf = (
  credentials: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }> = [DUMMY_CREDENTIALS],
): Map<string, string> => new Map(credentials.map((c) => [c.accessKeyId, c.secretAccessKey] as const));

const JSON_11 = 'application/x-amz-json-1.1';

/** A JSON 1.1 request body. */
export type Json11Body = Record<string, unknown>;

/**
 * A read-only AWS JSON 1.1 service (CloudTrail, EventBridge, KMS, Organizations): `POST /` with
 * `x-amz-target: <prefix>.<Operation>`, SigV4 for `signingName`, a JSON body of content type
 * `application/x-amz-json-1.1`; the product's own
 * `answer` is sent as JSON, errors as `{"__type","message"}` with `x-amzn-requestid`.
 */
export abstract class Json11Handler implements ServiceHandler {
  readonly throttle: { status: number; code: string };

  constructor(
    private readonly spec: {
      /** Target prefixes the service accepts (a service may have a short and a long one). */
      prefixes: readonly string[];
      operations: readonly string[];
      signingName: string;
      /** The service's throttling code; default ThrottlingException. */
      throttle?: string;
    },
    private readonly secrets: ReadonlyMap<string, string>,
  ) {
    this.throttle = { status: 400, code: spec.throttle ?? 'ThrottlingException' };
  }

  action(ctx: RequestContext): string {
    const target = header(ctx.req.headers, 'x-amz-target') ?? '';
    const dot = target.lastIndexOf('.');
    const op = target.slice(dot + 1);
    if (!this.spec.prefixes.includes(target.slice(0, dot)) || !this.spec.operations.includes(op))
      throw new ServiceFailure(
        400,
        'UnknownOperationException',
        `unknown operation ${JSON.stringify(target)}`,
      );
    return op;
  }

  isWrite(): boolean {
    return false;
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return {
      status,
      body: JSON.stringify({ __type: code, message }),
      headers: { 'content-type': JSON_11, 'x-amzn-requestid': requestId },
    };
  }

  async handle(ctx: RequestContext, action: string, log: (resource: string) => void): Promise<Answer> {
    if (ctx.req.method !== 'POST' || ctx.url.pathname !== '/')
      throw new ServiceFailure(400, 'UnknownOperationException', 'AWS JSON requests are POST /');
    const { region } = await verifySigV4(ctx, this.secrets, this.spec.signingName);
    if (header(ctx.req.headers, 'content-type') !== JSON_11)
      throw new ServiceFailure(400, 'SerializationException', `expected ${JSON_11}`);
    let body: Json11Body;
    try {
      body = JSON.parse(ctx.body.toString('utf8') || '{}') as Json11Body;
    } catch {
      throw new ServiceFailure(400, 'SerializationException', 'request body is not JSON');
    }
    return {
      status: 200,
      body: JSON.stringify(this.answer(action, body, region, log)),
      headers: { 'content-type': JSON_11, 'x-amzn-requestid': nextRequestId() },
    };
  }

  protected abstract answer(
    action: string,
    body: Json11Body,
    region: string,
    log: (resource: string) => void,
  ): unknown;
}
