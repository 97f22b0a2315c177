/**
 * OSS V4 signing (OSS4-HMAC-SHA256, header form, payload unsigned) and OSS error bodies: the
 * request-signing and error-reading kit of every OSS-family API (plain OSS with product `oss`,
 * OSS Tables with `osstables`). OSS Tables (oss-tables.ts) is one user; a new OSS-family client
 * signs and reads errors here rather than copying them.
 */
import { createHash, createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { RawResponse } from './http.ts';

// ---------------------------------------------------------------------------------------------
// OSS V4 signature (generic: product `oss` for OSS, `osstables` for OSS Tables)
// ---------------------------------------------------------------------------------------------

/** Python's `urllib.parse.quote(s, safe='')`: RFC 3986 unreserved characters stay, the rest is %XX. */
export function ossQuote(value: string, keepSlash = false): string {
  const encoded = encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? encoded.replaceAll('%2F', '/') : encoded;
}

export interface Oss4Request {
  method: string;
  /**
   * The unencoded resource path the signature covers. Plain OSS: `/<bucket>/<key>`. OSS Tables:
   * `/<bucket ARN>/<decoded request path>` (see tablesResourcePath).
   */
  resourcePath: string;
  /** Query parameters, unencoded; each name and value is quoted, then sorted. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Request headers; names are compared lower-cased. x-oss-*, content-type and content-md5 are signed. */
  headers: Readonly<Record<string, string>>;
}

export interface Oss4Signing {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
  region: string;
  /** `oss` or `osstables`. */
  product: string;
  date: Date;
}

export interface Oss4Signed {
  /** Headers to send: the input plus x-oss-date, x-oss-content-sha256, date, token, authorization. */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  authorization: string;
}

const iso8601 = (date: Date): string => `${date.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;

const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** Signs one request with OSS4-HMAC-SHA256 (header form, payload unsigned). */
export function signOss4(request: Oss4Request, signing: Oss4Signing): Oss4Signed {
  const stamp = iso8601(signing.date);
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    'x-oss-date': stamp,
    date: signing.date.toUTCString(),
    'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
  };
  if (signing.securityToken) headers['x-oss-security-token'] = signing.securityToken;

  const canonicalUri = ossQuote(request.resourcePath, true);
  const canonicalQuery = (request.query ?? [])
    .map(([k, v]) => [ossQuote(k), ossQuote(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak === bk ? compare(av, bv) : compare(ak, bk)))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join('&');
  const signed = Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => k.startsWith('x-oss-') || k === 'content-type' || k === 'content-md5')
    .sort(([a], [b]) => compare(a, b));
  const canonicalHeaders = signed.map(([k, v]) => `${k}:${v}\n`).join('');
  const canonicalRequest = [
    request.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    '', // additional headers: none
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const scope = `${day}/${signing.region}/${signing.product}/aliyun_v4_request`;
  const stringToSign = [
    'OSS4-HMAC-SHA256',
    stamp,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`aliyun_v4${signing.accessKeySecret}`, day), signing.region), signing.product),
    'aliyun_v4_request',
  );
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  const authorization = `OSS4-HMAC-SHA256 Credential=${signing.accessKeyId}/${scope},Signature=${signature}`;
  headers.authorization = authorization;
  return { headers, canonicalRequest, stringToSign, authorization };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** What an OSS-family error answer says. */
export interface OssErrorBody {
  /** The body's code, else derived from the HTTP status (`NotFound`, `Forbidden`, …). */
  code: string;
  message?: string;
  requestId?: string;
  /** OSS's fine-grained error code (`x-oss-ec`), when sent. */
  ec?: string;
}

/**
 * Error bodies: the Go SDK v2's Tables tests show JSON `{"message": …}` with the code carried only
 * by the HTTP status and `x-oss-ec`; classic OSS answers XML `<Error><Code>…`. Accept both, and a
 * JSON `code`, and fall back to the status text (`NotFound`, `Forbidden`, …) as the code.
 */
export function parseOssError(response: Pick<RawResponse, 'status' | 'headers' | 'body'>): OssErrorBody {
  const text = response.body.toString('utf8');
  const header = (name: string): string | undefined => {
    const v = response.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  let code: string | undefined;
  let message: string | undefined;
  let requestId = header('x-oss-request-id');
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const str = (...names: string[]) =>
      names.map((n) => body[n]).find((v): v is string => typeof v === 'string' && v !== '');
    code = str('code', 'Code', 'errorCode', '__type');
    message = str('message', 'Message', 'errorMessage');
    requestId = str('requestId', 'RequestId') ?? requestId;
  } catch {
    const tag = (name: string) => new RegExp(`<${name}>([^<]{1,512})</${name}>`).exec(text)?.[1];
    code = tag('Code');
    message = tag('Message');
    requestId = tag('RequestId') ?? requestId;
  }
  const statusText = (STATUS_CODES[response.status] ?? `HTTP${response.status}`).replace(/[^A-Za-z0-9]/g, '');
  const ec = header('x-oss-ec');
  return {
    code: code ?? statusText,
    ...(message !== undefined ? { message } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
    ...(ec !== undefined ? { ec } : {}),
  };
}
