/**
 * Emulated Function Compute 3.0 InvokeFunction (`POST /2023-03-30/functions/{name}/invocations`,
 * ACS3-signed). It does not run code: it records each invocation with its type, delay
 * (`x-fc-async-delay`, 0..3600 s) and body, so tests can assert a re-queue and the demo can
 * `drain()` the queue and hand the bodies to the handler itself.
 */
import { type Acs3Credential, Acs3Verifier, fcError } from './acs3.ts';
import {
  type Answer,
  EmulatedService,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

export interface FcInvocation {
  functionName: string;
  qualifier?: string;
  invocationType: 'Sync' | 'Async';
  /** Seconds FC would wait before running it (Async only). */
  delaySeconds: number;
  body: Buffer;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
  at: number;
}

const INVOKE = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/;

export class FcState {
  private readonly functions = new Set<string>();
  readonly invocations: FcInvocation[] = [];

  /** Makes a function exist (invoking an unknown one answers 404 FunctionNotFound). */
  seedFunction(name: string): void {
    this.functions.add(name);
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }

  /** Hands back every recorded invocation and empties the queue. */
  drain(): FcInvocation[] {
    return this.invocations.splice(0, this.invocations.length);
  }
}

class FcHandler implements ServiceHandler {
  readonly throttle = { status: 429, code: 'ResourceThrottled' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly state: FcState,
    credentials?: Acs3Credential[],
  ) {
    this.verifier = new Acs3Verifier(credentials);
  }

  action({ req, url }: RequestContext): string {
    return req.method === 'POST' && INVOKE.test(url.pathname) ? 'InvokeFunction' : 'Unknown';
  }

  isWrite(action: string): boolean {
    return action === 'InvokeFunction';
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return fcError(status, code, message, requestId);
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    this.verifier.check(ctx);
    if (action !== 'InvokeFunction')
      throw new ServiceFailure(404, 'PathNotSupported', `${ctx.req.method} ${ctx.url.pathname}`);
    const name = decodeURIComponent(INVOKE.exec(ctx.url.pathname)?.[1] ?? '');
    log(name);
    if (!this.state.has(name))
      throw new ServiceFailure(404, 'FunctionNotFound', `function '${name}' does not exist`);
    const typeHeader = ctx.req.headers['x-fc-invocation-type'] ?? 'Sync';
    if (typeHeader !== 'Sync' && typeHeader !== 'Async')
      throw new ServiceFailure(400, 'InvalidArgument', 'x-fc-invocation-type must be Sync or Async');
    const delayHeader = ctx.req.headers['x-fc-async-delay'];
    let delaySeconds = 0;
    if (delayHeader !== undefined) {
      delaySeconds = Number(delayHeader);
      if (!/^\d+$/.test(String(delayHeader)) || delaySeconds > 3600)
        throw new ServiceFailure(400, 'InvalidArgument', 'x-fc-async-delay must be an integer in [0, 3600]');
    }
    const qualifier = ctx.url.searchParams.get('qualifier') ?? undefined;
    let json: unknown;
    try {
      json = JSON.parse(ctx.body.toString('utf8'));
    } catch {
      json = undefined;
    }
    this.state.invocations.push({
      functionName: name,
      ...(qualifier !== undefined ? { qualifier } : {}),
      invocationType: typeHeader,
      delaySeconds,
      body: ctx.body,
      ...(json !== undefined ? { json } : {}),
      at: Date.now(),
    });
    const requestId = nextRequestId();
    return typeHeader === 'Async'
      ? { status: 202, body: '', headers: { 'x-fc-request-id': requestId } }
      : {
          status: 200,
          body: 'null',
          headers: { 'x-fc-request-id': requestId, 'content-type': 'application/json' },
        };
  }
}

export interface FcEmulator {
  service: EmulatedService;
  url: string;
  state: FcState;
  /** Recorded invocations, emptied (for the demo loop and tests). */
  drain(): FcInvocation[];
  stop(): Promise<void>;
}

/** Starts the FC emulator on a loopback port; point `ALIBABA_CLOUD_ENDPOINT_FC` at `url`. */
export async function startFc(
  options: { credentials?: Acs3Credential[]; functions?: string[]; port?: number } = {},
): Promise<FcEmulator> {
  const state = new FcState();
  for (const name of options.functions ?? []) state.seedFunction(name);
  const service = new EmulatedService('fc', new FcHandler(state, options.credentials));
  const url = await service.start(options.port);
  return { service, url, state, drain: () => state.drain(), stop: () => service.stop() };
}
