/**
 * One HTTP exchange for atrest's own signed clients (SLS, OSS Tables), on node:http/https only:
 * those services have no light SDK, and a bundled SDK would cost more cold start than our code.
 * The caller signs; this only sends, bounds the wait, and turns transport failures into the
 * caller's own network error class (so each service keeps its error names).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RemediationError, TransientError, UnexpectedError } from '#core/errors';

export interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface Exchange {
  protocol: 'http' | 'https';
  /** host[:port] to connect to; the Host header may name another (SLS's project host). */
  address: string;
  method: string;
  /** Path and query, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  /** TLS server name, when it differs from `address` (a virtual host). */
  servername?: string;
  /** Builds the service's network error: `code` is Node's (`ECONNRESET`, …) or `RequestTimeout`. */
  networkError: (code: string, message: string, cause?: unknown) => Error;
}

export function send(x: Exchange): Promise<RawResponse> {
  const url = new URL(`${x.protocol}://${x.address}`);
  const request = x.protocol === 'https' ? httpsRequest : httpRequest;
  const fail = (error: Error): Error =>
    error.name === 'AtrestTimeout'
      ? x.networkError('RequestTimeout', error.message)
      : x.networkError(
          (error as NodeJS.ErrnoException).code ?? 'NetworkError',
          `request failed: ${error.message}`,
          error,
        );
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: `${x.protocol}:`,
        hostname: url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        method: x.method,
        path: x.path,
        headers: x.headers,
        ...(x.protocol === 'https' && x.servername !== undefined ? { servername: x.servername } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (error) => reject(fail(error)));
      },
    );
    req.setTimeout(x.timeoutMs, () =>
      req.destroy(Object.assign(new Error(`no answer within ${x.timeoutMs} ms`), { name: 'AtrestTimeout' })),
    );
    req.on('error', (error) => reject(fail(error)));
    req.end(x.body);
  });
}

/** Transport failures worth another try; anything else (DNS name unknown, TLS) is not. */
export const RETRYABLE_NETWORK: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'RequestTimeout',
]);

/** A transport failure with Node's code: Transient when retrying can help, else Unexpected. */
export function classifyNetwork(error: Error & { code: string }): RemediationError {
  const ctx = { code: error.code };
  return RETRYABLE_NETWORK.has(error.code)
    ? new TransientError(error.message, ctx, { cause: error })
    : new UnexpectedError(error.message, ctx, { cause: error });
}

/** Anything a client threw that is neither a service answer nor a transport failure. */
export function unknownFailure(error: unknown): RemediationError {
  if (error instanceof RemediationError) return error;
  const e = error as { name?: string; message?: string };
  return new UnexpectedError(
    e?.message ?? String(error),
    { code: e?.name ?? 'UnexpectedError' },
    { cause: error },
  );
}
