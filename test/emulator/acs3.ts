/**
 * ACS3-HMAC-SHA256 (Alibaba Cloud OpenAPI signature V3) verification for the emulated ECS, ACK and
 * Function Compute 3.0 endpoints, rebuilt from the server's side of the spec and checked in
 * acs3.test.ts against signatures made by the real `@alicloud/openapi-client`:
 *
 *   canonical = METHOD \n URI \n sorted query (RFC 3986 values) \n "name:value\n"… for each signed
 *               header \n signed header names joined by ";" \n x-acs-content-sha256
 *   stringToSign = "ACS3-HMAC-SHA256\n" + hex(sha256(canonical))
 *   signature    = hex(hmac-sha256(secret, stringToSign))
 *
 * A bad signature is answered the way each service does (400 SignatureDoesNotMatch), through
 * ServiceFailure so the service's own error shape is used.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import {
  type Answer,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

export interface Acs3Credential {
  accessKeyId: string;
  accessKeySecret: string;
  /** When set, requests must carry this `x-acs-security-token` (STS). */
  securityToken?: string;
}

/** The dummy credentials tests and `npm start` use against the emulator. Not a secret. */
export const EMULATOR_CREDENTIALS: Acs3Credential = {
  accessKeyId: 'AKIDEXAMPLE',
  accessKeySecret: 'emulator-secret-key-not-a-real-secret',
};

export interface SignedRequest {
  method: string;
  /** Path and query exactly as received (`req.url`). */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Acs3Result =
  | { ok: true; accessKeyId: string }
  | { ok: false; status: number; code: string; message: string };

const ALGORITHM = 'ACS3-HMAC-SHA256';
const AUTH = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]*),Signature=([0-9a-f]{64})$/;
const MUST_SIGN = ['host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'];

/** RFC 3986 percent-encoding as the V3 spec wants it (`!'()*` encoded too). */
export function acs3Encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** The canonical request the client should have signed, for the given signed header names. */
export function canonicalRequest(req: SignedRequest, signedHeaders: readonly string[]): string {
  const q = req.rawUrl.indexOf('?');
  const path = q < 0 ? req.rawUrl : req.rawUrl.slice(0, q);
  const uri = (path === '' ? '/' : path).replaceAll('+', '%20').replaceAll('*', '%2A').replaceAll('%7E', '~');
  const parsed = q < 0 ? {} : parseQuery(req.rawUrl.slice(q + 1));
  const query = Object.keys(parsed)
    .sort()
    .map((key) => {
      const raw = parsed[key];
      const value = Array.isArray(raw) ? (raw.at(-1) ?? '') : (raw ?? '');
      return `${acs3Encode(key)}=${acs3Encode(value)}`;
    })
    .join('&');
  const headers = signedHeaders
    .map((name) => `${name}:${(header(req.headers, name) ?? '').trim()}\n`)
    .join('');
  return [
    req.method.toUpperCase(),
    uri,
    query,
    headers,
    signedHeaders.join(';'),
    header(req.headers, 'x-acs-content-sha256') ?? '',
  ].join('\n');
}

/** The signature a holder of `secret` would compute for `req`. */
export function acs3Signature(req: SignedRequest, signedHeaders: readonly string[], secret: string): string {
  const stringToSign = `${ALGORITHM}\n${sha256Hex(canonicalRequest(req, signedHeaders))}`;
  return createHmac('sha256', secret).update(stringToSign).digest('hex');
}

export interface VerifyOptions {
  /** Nonces already seen: a replayed `x-acs-signature-nonce` is refused. */
  nonces?: Set<string>;
}

/** Checks one request's ACS3 signature against the known credentials. Pure apart from `nonces`. */
export function verifyAcs3(
  req: SignedRequest,
  credentials: readonly Acs3Credential[],
  options: VerifyOptions = {},
): Acs3Result {
  const fail = (status: number, code: string, message: string): Acs3Result => ({
    ok: false,
    status,
    code,
    message,
  });
  const authorization = header(req.headers, 'authorization');
  if (!authorization)
    return fail(400, 'IncompleteSignature', 'The request is not signed (no Authorization).');
  const match = AUTH.exec(authorization);
  if (!match) return fail(400, 'IncompleteSignature', 'Authorization is not an ACS3-HMAC-SHA256 signature.');
  const [, accessKeyId = '', signedList = '', signature = ''] = match;
  const credential = credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!credential) return fail(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

  const signed = signedList.split(';').filter((h) => h !== '');
  const sorted = [...signed].sort();
  if (signed.some((h, i) => h !== h.toLowerCase() || h !== sorted[i]))
    return fail(400, 'SignatureDoesNotMatch', 'SignedHeaders must be lower-case and sorted.');
  const presentAcs = Object.keys(req.headers).filter((h) => h.startsWith('x-acs-'));
  const unsigned = [...MUST_SIGN, ...presentAcs].filter((h) => !signed.includes(h));
  if (unsigned.length > 0)
    return fail(
      400,
      'SignatureDoesNotMatch',
      `Headers must be signed: ${[...new Set(unsigned)].join(', ')}.`,
    );

  const claimedHash = header(req.headers, 'x-acs-content-sha256');
  if (claimedHash !== sha256Hex(req.body))
    return fail(400, 'SignatureDoesNotMatch', 'x-acs-content-sha256 does not match the request body.');

  const expected = acs3Signature(req, signed, credential.accessKeySecret);
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(signature, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return fail(
      400,
      'SignatureDoesNotMatch',
      'The request signature does not conform to Aliyun standards (server string to sign differs).',
    );

  if (credential.securityToken !== undefined) {
    const token = header(req.headers, 'x-acs-security-token');
    if (token !== credential.securityToken)
      return fail(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'The security token does not match.');
  }

  const nonce = header(req.headers, 'x-acs-signature-nonce') ?? '';
  if (options.nonces) {
    if (options.nonces.has(nonce))
      return fail(400, 'SignatureNonceUsed', 'The signature nonce has been used.');
    options.nonces.add(nonce);
  }
  return { ok: true, accessKeyId };
}

/** For service handlers: verifies `ctx` or throws the ServiceFailure the service would answer. */
export class Acs3Verifier {
  private readonly nonces = new Set<string>();

  constructor(readonly credentials: Acs3Credential[] = [EMULATOR_CREDENTIALS]) {}

  check(ctx: RequestContext): string {
    const result = verifyAcs3(
      {
        method: ctx.req.method ?? 'GET',
        rawUrl: ctx.req.url ?? '/',
        headers: ctx.req.headers,
        body: ctx.body,
      },
      this.credentials,
      { nonces: this.nonces },
    );
    if (!result.ok) throw new ServiceFailure(result.status, result.code, result.message);
    return result.accessKeyId;
  }
}

const json = (status: number, body: unknown, requestId: string): Answer => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId },
});

/** RPC products (ECS): `{"RequestId","HostId","Code","Message"}`. */
export function rpcError(
  status: number,
  code: string,
  message: string,
  requestId: string,
  host: string,
): Answer {
  return json(status, { RequestId: requestId, HostId: host, Code: code, Message: message }, requestId);
}

/** ROA products (ACK): `{"code","message","requestId"}`. */
export function roaError(status: number, code: string, message: string, requestId: string): Answer {
  return json(status, { code, message, requestId }, requestId);
}

/** Function Compute 3.0: `{"Code","Message","RequestId"}` (shape UNCONFIRMED, read the same way by the client). */
export function fcError(status: number, code: string, message: string, requestId: string): Answer {
  return {
    ...json(status, { Code: code, Message: message, RequestId: requestId }, requestId),
    headers: { 'content-type': 'application/json;charset=utf-8', 'x-fc-request-id': requestId },
  };
}

export { json as jsonAnswer };

/** The action of an ACS3-signed RPC request (the `x-acs-action` header). */
export function acs3Action({ req }: RequestContext): string {
  const action = req.headers['x-acs-action'];
  return typeof action === 'string' && action !== '' ? action : 'Unknown';
}

/** What an RpcHandler's `answer` knows of the caller: the verified key, and its account when `admit` says. */
export interface RpcCaller {
  accessKeyId: string;
  account?: string;
}

/**
 * A read-only RPC product as @alicloud/openapi-client reaches it (ActionTrail, EventBridge, KMS,
 * Resource Manager, STS): ACS3 signature, GET or POST, `x-acs-version` and `x-acs-action` checked
 * before the product's own `answer`, which is sent as `{RequestId, …answer}`; errors as RPC
 * `{RequestId, HostId, Code, Message}` from `host`.
 */
export abstract class RpcHandler implements ServiceHandler {
  readonly throttle = { status: 400, code: 'Throttling.User' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly spec: { version: string; host: string; actions: readonly string[] },
    credentials?: Acs3Credential[],
  ) {
    this.verifier = new Acs3Verifier(credentials);
  }

  action(ctx: RequestContext): string {
    return acs3Action(ctx);
  }

  isWrite(): boolean {
    return false;
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return rpcError(status, code, message, requestId, this.spec.host);
  }

  handle(ctx: RequestContext, action: string, log: (resource: string, account?: string) => void): Answer {
    const accessKeyId = this.verifier.check(ctx);
    const account = this.admit(ctx, accessKeyId);
    if (ctx.req.method !== 'POST' && ctx.req.method !== 'GET')
      throw new ServiceFailure(400, 'UnsupportedHTTPMethod', 'RPC takes GET or POST');
    if (ctx.req.headers['x-acs-version'] !== this.spec.version)
      throw new ServiceFailure(400, 'InvalidVersion', `x-acs-version must be ${this.spec.version}`);
    if (!this.spec.actions.includes(action))
      throw new ServiceFailure(404, 'InvalidAction.NotFound', `Specified api is not found: ${action}`);
    const requestId = nextRequestId();
    const caller = account === undefined ? { accessKeyId } : { accessKeyId, account };
    return json(
      200,
      { RequestId: requestId, ...this.answer(action, ctx.url.searchParams, log, caller) },
      requestId,
    );
  }

  /** The caller's account, for products that serve per account (STS); checked right after the signature. */
  protected admit(_ctx: RequestContext, _accessKeyId: string): string | undefined {
    return undefined;
  }

  protected abstract answer(
    action: string,
    query: URLSearchParams,
    log: (resource: string, account?: string) => void,
    caller: RpcCaller,
  ): Record<string, unknown>;
}
