/**
 * One HTTP exchange for atrest's own signed clients (SLS, OSS Tables), on node:http/https only:
 * those services have no light SDK, and a bundled SDK would cost more cold start than our code.
 * The caller signs; this only sends, bounds the wait, and turns transport failures into the
 * caller's own network error class (so each service keeps its error names).
 *
 * Bounded twice: `timeoutMs` is a deadline on the whole exchange — connect, headers and every byte
 * of the body — not an idle timeout, so a server that trickles one byte a second cannot hold an
 * invocation; `maxBodyBytes` caps the body, checked against Content-Length before reading and
 * while reading (the socket is destroyed at the cap, so a 300 MB answer costs at most the cap).
 * Both end as the caller's network error with code `RequestTimeout` / `ResponseTooLarge`, which
 * `classifyNetwork` makes retryable inside the engine's budget.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { unexpected } from '#core/engine';
import { RETRYABLE_NODE_CODES, RemediationError, TransientError, UnexpectedError } from '#core/errors';

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
  /** Deadline for the whole exchange, body included. */
  timeoutMs: number;
  /** Largest response body accepted. Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  /** TLS server name, when it differs from `address` (a virtual host). */
  servername?: string;
  /** Builds the service's network error: `code` is Node's (`ECONNRESET`, …) or `RequestTimeout`. */
  networkError: (code: string, message: string, cause?: unknown) => Error;
}

/** 1 MiB: every answer atrest reads is one resource or one page of names, a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** 4 MiB: one page of a listing (SLS and OSS Tables pages hold at most 500–1,000 short entries). */
export const LIST_MAX_BODY_BYTES = 4 * 1024 * 1024;

export function send(x: Exchange): Promise<RawResponse> {
  const url = new URL(`${x.protocol}://${x.address}`);
  const request = x.protocol === 'https' ? httpsRequest : httpRequest;
  const cap = x.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, response?: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) reject(error);
      else if (response) resolve(response);
    };
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
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > cap) {
          finish(tooLarge(`declares ${declared} bytes`));
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > cap) {
            finish(tooLarge(`exceeded ${cap} bytes while reading`));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          finish(undefined, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', (error) => finish(fail(error)));
        // A connection that closes before the last byte (no 'end'): never a silent short body.
        res.on('close', () => {
          if (!res.complete)
            finish(x.networkError('ECONNRESET', 'connection closed before the end of the answer'));
        });
      },
    );
    const tooLarge = (detail: string) =>
      x.networkError('ResponseTooLarge', `response body over the ${cap}-byte cap (${detail})`);
    const fail = (error: Error): Error =>
      x.networkError(
        (error as NodeJS.ErrnoException).code ?? 'NetworkError',
        `request failed: ${error.message}`,
        error,
      );
    // One timer for the whole exchange: idle timeouts restart on every byte, so a trickling
    // server would never trip one.
    const deadline = setTimeout(() => {
      finish(x.networkError('RequestTimeout', `no complete answer within ${x.timeoutMs} ms`));
      req.destroy();
    }, x.timeoutMs);
    req.on('error', (error) => finish(fail(error)));
    req.end(x.body);
  });
}

/**
 * For SDKs that do their own HTTP (Tablestore): an Agent whose every connection carries one
 * request (no keep-alive) and is destroyed when the exchange passes `deadlineMs` or `maxBodyBytes`
 * bytes arrive — the same two bounds as `send()`, enforced on the socket because the SDK only has
 * an idle timeout. The socket error carries `code` `RequestTimeout` / `ResponseTooLarge`.
 */
export function boundedAgent(
  protocol: 'http' | 'https',
  limits: { deadlineMs: number; maxBodyBytes?: number },
): HttpAgent {
  const cap = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const bound = (socket: Socket): Socket => {
    const fail = (code: string, message: string) =>
      socket.destroy(Object.assign(new Error(message), { code }));
    const timer = setTimeout(
      () => fail('RequestTimeout', `no complete answer within ${limits.deadlineMs} ms`),
      limits.deadlineMs,
    );
    let read = 0;
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > cap) fail('ResponseTooLarge', `response over the ${cap}-byte cap`);
    });
    socket.once('close', () => clearTimeout(timer));
    return socket;
  };
  type Create = (options: object, callback?: unknown) => Socket;
  const agent =
    protocol === 'https' ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
  const create = (agent as unknown as { createConnection: Create }).createConnection.bind(agent);
  (agent as unknown as { createConnection: Create }).createConnection = (options, callback) =>
    bound(create(options, callback));
  return agent;
}

/**
 * Transport failures worth another try, for every Alibaba Cloud client (the engine's budget bounds
 * how often): Node's codes that both clouds retry (#core/errors `RETRYABLE_NODE_CODES`, where each
 * is argued, and why `ENOTFOUND` is not), plus
 * - `RequestTimeout`, `ResponseTooLarge`: our deadline / body cap (send(), boundedAgent());
 * - `NetworkingError`, `TimeoutError`: the tablestore SDK's own labels for any transport failure
 *   (it overwrites Node's code) and for its timeout; it marks both retryable
 *   (lib/event_listeners.js, lib/http/node.js).
 */
export const RETRYABLE_NETWORK: ReadonlySet<string> = new Set([
  ...RETRYABLE_NODE_CODES,
  'RequestTimeout',
  'ResponseTooLarge',
  'NetworkingError',
  'TimeoutError',
]);

/** A transport failure with Node's code: Transient when retrying can help, else Unexpected. */
export function classifyNetwork(error: Error & { code: string }): RemediationError {
  const ctx = { code: error.code };
  return RETRYABLE_NETWORK.has(error.code)
    ? new TransientError(error.message, ctx, { cause: error })
    : new UnexpectedError(error.message, ctx, { cause: error });
}

/**
 * The one "unknown → Unexpected" mapping: anything a client threw that no rule classifies. A
 * service answer no rule knows keeps the service's code, status and request id (`context`);
 * anything else is the engine's own `unexpected` (its name as the code).
 */
export function unknownFailure(
  error: unknown,
  context?: { code: string; status?: number; requestId?: string },
): RemediationError {
  if (error instanceof RemediationError) return error;
  if (context === undefined) return unexpected(error);
  const e = error as { message?: string };
  return new UnexpectedError(e?.message ?? String(error), context, { cause: error });
}
