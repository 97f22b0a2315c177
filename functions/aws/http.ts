/**
 * A deadline on the whole exchange and a cap on the body, for every AWS SDK client atrest builds.
 *
 * The SDK's NodeHttpHandler has a connection timeout and a `requestTimeout`, but the latter is a
 * socket *idle* timeout: a server that sends its headers and then one byte a second never trips
 * it, and the SDK reads any body whole into memory. So each client's handler is wrapped: one timer
 * for connect + headers + body (an AbortSignal the handler already honours, plus the body stream
 * destroyed at the deadline), and a byte counter that destroys the body at the cap. Both surface as
 * errors `classifyAwsError` makes retryable (TransientError) with a clear code: `RequestTimeout`,
 * `ResponseTooLarge` — inside the engine's retry budget, never a hung invocation.
 */
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';

export interface ExchangeLimits {
  /** Deadline for one HTTP exchange, body included. */
  deadlineMs: number;
  /** Largest response body accepted. */
  maxBodyBytes: number;
}

/** 1 MiB: a DescribeLogGroups page, a DynamoDB item, a KMS key description are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * A CLI call's bounds (org listing, doctor): ten seconds an exchange, 1 MiB. The SDK's own retries
 * stay on there: an operator is waiting, and no engine budget counts those calls.
 */
export const CLI_LIMITS: ExchangeLimits = { deadlineMs: 10_000, maxBodyBytes: DEFAULT_MAX_BODY_BYTES };

/** The deadline passed. `name` is one classifyAwsError retries; `code` is what the outcome line shows. */
class RequestDeadlineError extends Error {
  readonly code = 'RequestTimeout';
  constructor(deadlineMs: number) {
    super(`no complete answer within ${deadlineMs} ms (body included)`);
    this.name = 'TimeoutError';
  }
}

/** The body passed the cap (by Content-Length, or while reading). */
class ResponseTooLargeError extends Error {
  readonly code = 'ResponseTooLarge';
  constructor(cap: number, detail: string) {
    super(`response body over the ${cap}-byte cap (${detail})`);
    this.name = 'ResponseTooLarge';
  }
}

interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

interface Handler {
  handle(
    request: unknown,
    options?: { abortSignal?: AbortSignal; requestTimeout?: number },
  ): Promise<{ response: HttpResponseLike }>;
}

/**
 * Wraps `client.config.requestHandler` in place (every command resolves the handler from the
 * client's config when it is sent) and returns the client.
 */
export function bounded<C extends { config: object }>(client: C, limits: ExchangeLimits): C {
  const config = client.config as { requestHandler: Handler };
  config.requestHandler = boundHandler(config.requestHandler, limits);
  return client;
}

/** How long and how often a function-side client may try (boundedClient). */
export interface ClientBounds {
  /** Deadline on one exchange, body included; also the handler's socket idle timeout. */
  deadlineMs: number;
  /** Abort a connection attempt after this many ms. Default 3 000. */
  connectionTimeoutMs?: number;
  /** Tries per call. Default 1: the engine owns retries and the API-call budget. */
  maxAttempts?: number;
  /** Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

/** The SDK settings boundedClient hands to a client's constructor. */
export interface BoundedSettings {
  maxAttempts: number;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
}

/**
 * One AWS SDK client as every function-side client is built: `maxAttempts` tries, the Node
 * handler's connection and idle timeouts (`throwOnRequestTimeout`: since @smithy/node-http-handler
 * 4.x it aborts instead of only warning), and `bounded`'s deadline on the whole exchange and body
 * cap. `make` adds what is the client's own (`region`, credentials).
 */
export function boundedClient<C extends { config: object }>(
  bounds: ClientBounds,
  make: (settings: BoundedSettings) => C,
): C {
  const client = make({
    maxAttempts: bounds.maxAttempts ?? 1,
    requestHandler: {
      connectionTimeout: bounds.connectionTimeoutMs ?? 3_000,
      requestTimeout: bounds.deadlineMs,
      throwOnRequestTimeout: true,
    },
  });
  return bounded(client, {
    deadlineMs: bounds.deadlineMs,
    maxBodyBytes: bounds.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  });
}

function boundHandler<H extends Handler>(inner: H, limits: ExchangeLimits): H {
  const wrapper = Object.create(inner) as H;
  wrapper.handle = async (request, options = {}) => {
    const controller = new AbortController();
    const deadlineError = new RequestDeadlineError(limits.deadlineMs);
    const timer = setTimeout(() => controller.abort(deadlineError), limits.deadlineMs);
    // The open socket keeps the process alive while the exchange lasts; the timer alone must not
    // (a body nobody reads would otherwise hold a CLI run open until the deadline).
    timer.unref();
    const signal =
      options.abortSignal === undefined
        ? controller.signal
        : AbortSignal.any([options.abortSignal, controller.signal]);
    let result: { response: HttpResponseLike };
    try {
      result = await inner.handle(request, { ...options, abortSignal: signal });
    } catch (error) {
      clearTimeout(timer);
      throw controller.signal.aborted ? deadlineError : error;
    }
    const { response } = result;
    const source = response.body as IncomingMessage | undefined;
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
      clearTimeout(timer);
      source?.destroy?.();
      throw new ResponseTooLargeError(limits.maxBodyBytes, `declares ${declared} bytes`);
    }
    if (source === undefined || typeof source.pipe !== 'function') {
      clearTimeout(timer);
      return result;
    }
    let size = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > limits.maxBodyBytes) {
          callback(new ResponseTooLargeError(limits.maxBodyBytes, `exceeded it while reading`));
          source.destroy();
          return;
        }
        callback(null, chunk);
      },
    });
    const stop = (error: Error) => {
      clearTimeout(timer);
      if (!counted.destroyed) counted.destroy(error);
      source.destroy();
    };
    controller.signal.addEventListener('abort', () => stop(deadlineError), { once: true });
    source.on('error', (error) => stop(controller.signal.aborted ? deadlineError : error));
    counted.on('close', () => clearTimeout(timer));
    source.pipe(counted);
    response.body = counted;
    return result;
  };
  return wrapper;
}
