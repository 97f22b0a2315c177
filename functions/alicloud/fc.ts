/**
 * The Function Compute 3.0 entry adapter shared by the four Alibaba Cloud functions:
 * Buffer → JSON → CloudEvent → engine → one structured log line per outcome.
 * (Deferral by delayed async self-invocation is added by the cluster-kms work.)
 */
import { configFromEnv } from '#core/config';
import { remediateEvent } from '#core/engine';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import type { Remediator } from '#core/remediator';
import { type AlicloudCredentials, credentialsFrom, type FcContextCredentials } from './clients.ts';

/** The parts of the FC 3.0 Node.js context we use. */
export interface FcContext {
  requestId?: string;
  credentials?: FcContextCredentials;
  function?: { name?: string; timeout?: number; qualifier?: string };
  region?: string;
  accountId?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: each function brings its own Target/Desired/State types.
export type AnyRemediator = Remediator<any, any, any>;

export interface FcHandlerOptions {
  /** Builds the remediator for this invocation's credentials (STS credentials rotate; clients are cheap). */
  create: (credentials: () => AlicloudCredentials) => AnyRemediator;
  /** Idempotency store; default: Tablestore when configured, else per-instance memory. */
  store?: IdempotencyStore;
  env?: Record<string, string | undefined>;
}

const memory = new MemoryIdempotencyStore();

export function createFcHandler(options: FcHandlerOptions) {
  const env = options.env ?? process.env;
  // Parsed once per instance: a bad config fails the first invocation with the field named.
  const config = configFromEnv(env);
  return async (event: Buffer | string | object, context: FcContext = {}): Promise<Outcome[]> => {
    const started = Date.now();
    const timeoutMs = (context.function?.timeout ?? 60) * 1000;
    const remediator = options.create(() => credentialsFrom(context, env));
    const decoded = decode(event);
    const outcomes = await remediateEvent(remediator, decoded, {
      config,
      store: options.store ?? memory,
      remainingMs: () => timeoutMs - (Date.now() - started),
    });
    for (const outcome of outcomes)
      console.log(JSON.stringify({ level: 'INFO', message: 'outcome', ...outcome }));
    return outcomes;
  };
}

/** FC hands the event as a Buffer; a test or the CLI may pass a string or an object. */
function decode(event: Buffer | string | object): unknown {
  const text = Buffer.isBuffer(event)
    ? event.toString('utf8')
    : typeof event === 'string'
      ? event
      : undefined;
  if (text === undefined) return event;
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: let the remediator's parser reject it with its own reason.
    return { unparseable: text.slice(0, 200) };
  }
}
