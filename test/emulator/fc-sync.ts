/**
 * Function Compute synchronous invocation, emulated at the wire, running the function's handler in
 * this process — what `atrest replay --remote` reaches. Two APIs on one port:
 *
 * - FC 3.0: `POST /2023-03-30/functions/{name}/invocations[?qualifier=]`, ACS3-signed (verified
 *   with acs3.ts), `x-fc-invocation-type: Sync` (the default) or `Async` (202, recorded, not run:
 *   test/emulator/fc.ts covers re-queues).
 * - FC 2.0 (@alicloud/fc2): `POST /2016-08-15/services/{service[.qualifier]}/functions/{name}/invocations`,
 *   signed `FC <AccessKeyId>:<base64 HMAC-SHA256>` over `METHOD\nContent-MD5\nContent-Type\nDate\n`
 *   + the sorted `x-fc-*` headers (`name:value\n`) + the path, as the SDK's helper builds it; the
 *   Date must be within 15 minutes. Errors `{"ErrorCode","ErrorMessage"}`.
 *
 * A handler that throws answers 200 with `x-fc-error-type: UnhandledInvocationError` and
 * `{"errorMessage","errorType","stackTrace"}` (FC's documented error header and body; whether the
 * FC 3.0 status is 200 is UNCONFIRMED). A handler's return value is sent as JSON (a Buffer or
 * string as is). The body reaches the handler as a Buffer, as FC delivers it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type Acs3Credential, Acs3Verifier, EMULATOR_CREDENTIALS, fcError } from './acs3.ts';
import {
  type Answer,
  EmulatedService,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

/** The FC context fields the atrest handlers read. */
export interface FcSyncContext {
  requestId: string;
  credentials: { accessKeyId: string; accessKeySecret: string; securityToken?: string };
  function: { name: string; timeout: number; qualifier?: string };
  region: string;
  accountId: string;
}

export type FcSyncHandler = (event: Buffer, context: FcSyncContext) => Promise<unknown> | unknown;

export interface FcSyncInvocation {
  api: '2023-03-30' | '2016-08-15';
  service?: string;
  functionName: string;
  qualifier?: string;
  invocationType: 'Sync' | 'Async';
  body: Buffer;
  error: boolean;
}

const FC3 = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/;
const FC2 = /^\/2016-08-15\/services\/([^/]+)\/functions\/([^/]+)\/invocations$/;
const FIFTEEN_MINUTES = 15 * 60_000;

export class FcSyncState {
  private readonly functions = new Map<string, { handler: FcSyncHandler; timeoutS: number }>();
  readonly invocations: FcSyncInvocation[] = [];

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  /** Deploys `handler` as FC 3.0 function `name`; `service` also makes it reachable as an FC 2.0 service's function. */
  seedFunction(
    name: string,
    handler: FcSyncHandler,
    options: { service?: string; timeoutS?: number } = {},
  ): this {
    const entry = { handler, timeoutS: options.timeoutS ?? 60 };
    this.functions.set(name, entry);
    if (options.service !== undefined) this.functions.set(`${options.service}/${name}`, entry);
    return this;
  }

  get(key: string): { handler: FcSyncHandler; timeoutS: number } | undefined {
    return this.functions.get(key);
  }
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** FC 2.0's string to sign, rebuilt from the received request. */
export function fc2StringToSign(method: string, path: string, headers: IncomingHttpHeaders): string {
  const fcHeaders = Object.keys(headers)
    .filter((name) => name.startsWith('x-fc-'))
    .sort()
    .map((name) => `${name}:${header(headers, name) ?? ''}\n`)
    .join('');
  return `${method}\n${header(headers, 'content-md5') ?? ''}\n${header(headers, 'content-type') ?? ''}\n${header(headers, 'date') ?? ''}\n${fcHeaders}${path}`;
}

class FcSyncHandlerImpl implements ServiceHandler {
  readonly throttle = { status: 429, code: 'ResourceThrottled' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly state: FcSyncState,
    private readonly credentials: Acs3Credential[],
    private readonly now: () => number,
  ) {
    this.verifier = new Acs3Verifier(credentials);
  }

  action({ req, url }: RequestContext): string {
    if (req.method !== 'POST') return 'Unknown';
    if (FC3.test(url.pathname)) return 'InvokeFunction';
    if (FC2.test(url.pathname)) return 'InvokeFunction2016';
    return 'Unknown';
  }

  isWrite(action: string): boolean {
    return action.startsWith('InvokeFunction');
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return fcError(status, code, message, requestId);
  }

  async handle(ctx: RequestContext, action: string, log: (resource: string) => void): Promise<Answer> {
    if (action === 'InvokeFunction') return this.invoke3(ctx, log);
    if (action === 'InvokeFunction2016') return this.invoke2(ctx, log);
    throw new ServiceFailure(404, 'PathNotSupported', `${ctx.req.method} ${ctx.url.pathname}`);
  }

  private async invoke3(ctx: RequestContext, log: (resource: string) => void): Promise<Answer> {
    const accessKeyId = this.verifier.check(ctx);
    const name = decodeURIComponent(FC3.exec(ctx.url.pathname)?.[1] ?? '');
    log(name);
    const fn = this.state.get(name);
    if (!fn) throw new ServiceFailure(404, 'FunctionNotFound', `function '${name}' does not exist`);
    const type = header(ctx.req.headers, 'x-fc-invocation-type') ?? 'Sync';
    if (type !== 'Sync' && type !== 'Async')
      throw new ServiceFailure(400, 'InvalidArgument', 'x-fc-invocation-type must be Sync or Async');
    const qualifier = ctx.url.searchParams.get('qualifier') ?? undefined;
    const invocation: Omit<FcSyncInvocation, 'error'> = {
      api: '2023-03-30',
      functionName: name,
      ...(qualifier !== undefined ? { qualifier } : {}),
      invocationType: type,
      body: ctx.body,
    };
    if (type === 'Async') {
      this.state.invocations.push({ ...invocation, error: false });
      return { status: 202, body: '', headers: { 'x-fc-request-id': nextRequestId() } };
    }
    return this.run(fn, name, qualifier, accessKeyId, ctx.body, (error) =>
      this.state.invocations.push({ ...invocation, error }),
    );
  }

  private async invoke2(ctx: RequestContext, log: (resource: string) => void): Promise<Answer> {
    const accessKeyId = this.verifyFc2(ctx);
    const [, serviceRaw = '', nameRaw = ''] = FC2.exec(ctx.url.pathname) ?? [];
    const [service = '', qualifier] = decodeURIComponent(serviceRaw).split('.');
    const name = decodeURIComponent(nameRaw);
    log(`${service}/${name}`);
    const fn = this.state.get(`${service}/${name}`);
    if (!fn)
      throw new ServiceFailure(
        404,
        'FunctionNotFound',
        `function '${name}' does not exist in service '${service}'`,
      );
    const type = header(ctx.req.headers, 'x-fc-invocation-type') ?? 'Sync';
    return this.run(fn, name, qualifier, accessKeyId, ctx.body, (error) =>
      this.state.invocations.push({
        api: '2016-08-15',
        service,
        functionName: name,
        ...(qualifier !== undefined ? { qualifier } : {}),
        invocationType: type === 'Async' ? 'Async' : 'Sync',
        body: ctx.body,
        error,
      }),
    );
  }

  /** FC 2.0 signature check; FC 2.0 errors are `{"ErrorCode","ErrorMessage"}`. */
  private verifyFc2(ctx: RequestContext): string {
    const fail = (status: number, code: string, message: string) => new ServiceFailure(status, code, message);
    const authorization = header(ctx.req.headers, 'authorization') ?? '';
    const m = /^FC ([^:]+):([A-Za-z0-9+/=]+)$/.exec(authorization);
    if (!m) throw fail(403, 'SignatureNotMatch', 'Authorization is not an FC signature.');
    const [, accessKeyId = '', signature = ''] = m;
    const credential = this.credentials.find((c) => c.accessKeyId === accessKeyId);
    if (!credential) throw fail(403, 'InvalidAccessKeyID', `invalid access key ID '${accessKeyId}'`);
    const date = Date.parse(header(ctx.req.headers, 'date') ?? '');
    if (!Number.isFinite(date) || Math.abs(this.now() - date) > FIFTEEN_MINUTES)
      throw fail(
        403,
        'RequestTimeTooSkewed',
        'the difference between the request time and the server time is too large',
      );
    const path = decodeURIComponent(ctx.url.pathname);
    const expected = createHmac('sha256', credential.accessKeySecret)
      .update(fc2StringToSign(ctx.req.method ?? 'POST', path, ctx.req.headers), 'utf8')
      .digest();
    const sent = Buffer.from(signature, 'base64');
    if (sent.length !== expected.length || !timingSafeEqual(sent, expected))
      throw fail(
        403,
        'SignatureNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your access key and signing method.',
      );
    return accessKeyId;
  }

  private async run(
    fn: { handler: FcSyncHandler; timeoutS: number },
    name: string,
    qualifier: string | undefined,
    accessKeyId: string,
    body: Buffer,
    record: (error: boolean) => void,
  ): Promise<Answer> {
    const requestId = nextRequestId();
    const credential = this.credentials.find((c) => c.accessKeyId === accessKeyId) ?? EMULATOR_CREDENTIALS;
    const context: FcSyncContext = {
      requestId,
      credentials: {
        accessKeyId: credential.accessKeyId,
        accessKeySecret: credential.accessKeySecret,
        ...(credential.securityToken ? { securityToken: credential.securityToken } : {}),
      },
      function: { name, timeout: fn.timeoutS, ...(qualifier !== undefined ? { qualifier } : {}) },
      region: this.state.region,
      accountId: this.state.account,
    };
    try {
      const result = await fn.handler(Buffer.from(body), context);
      record(false);
      const text = Buffer.isBuffer(result)
        ? result
        : typeof result === 'string'
          ? result
          : JSON.stringify(result ?? null);
      return {
        status: 200,
        body: text,
        headers: { 'content-type': 'application/json', 'x-fc-request-id': requestId },
      };
    } catch (thrown) {
      record(true);
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      return {
        status: 200,
        body: JSON.stringify({
          errorMessage: error.message,
          errorType: error.name,
          stackTrace: (error.stack ?? '').split('\n').slice(1),
        }),
        headers: {
          'content-type': 'application/json',
          'x-fc-request-id': requestId,
          'x-fc-error-type': 'UnhandledInvocationError',
        },
      };
    }
  }
}

/** Answers FC 3.0 errors as `{"Code","Message","RequestId"}`, FC 2.0 ones as `{"ErrorCode","ErrorMessage"}`. */
class FcSyncService implements ServiceHandler {
  /** Set by action(); the harness answers faults with error() right after, with no await between. */
  private lastFc2 = false;

  constructor(private readonly inner: FcSyncHandlerImpl) {}

  get throttle() {
    return this.inner.throttle;
  }

  action(ctx: RequestContext): string {
    const action = this.inner.action(ctx);
    this.lastFc2 = action === 'InvokeFunction2016';
    return action;
  }

  isWrite(action: string): boolean {
    return this.inner.isWrite(action);
  }

  async handle(ctx: RequestContext, action: string, log: (resource: string) => void): Promise<Answer> {
    try {
      return await this.inner.handle(ctx, action, log);
    } catch (error) {
      if (error instanceof ServiceFailure && action === 'InvokeFunction2016') {
        const requestId = nextRequestId();
        return {
          status: error.status,
          body: JSON.stringify({ ErrorCode: error.code, ErrorMessage: error.message }),
          headers: { 'content-type': 'application/json', 'x-fc-request-id': requestId },
        };
      }
      throw error;
    }
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return this.lastFc2
      ? {
          status,
          body: JSON.stringify({ ErrorCode: code, ErrorMessage: message }),
          headers: { 'content-type': 'application/json', 'x-fc-request-id': requestId },
        }
      : this.inner.error(status, code, message, requestId);
  }
}

export interface FcSyncEmulator {
  service: EmulatedService;
  /** The value for `ALIBABA_CLOUD_ENDPOINT_FC`. */
  url: string;
  state: FcSyncState;
  stop(): Promise<void>;
}

/** Starts the emulator; point `ALIBABA_CLOUD_ENDPOINT_FC` at `url`. */
export async function startFcSync(
  options: {
    region?: string;
    account?: string;
    credentials?: Acs3Credential[];
    now?: () => number;
    port?: number;
  } = {},
): Promise<FcSyncEmulator> {
  const state = new FcSyncState(options.region ?? 'cn-hangzhou', options.account ?? '1234567890123456');
  const handler = new FcSyncHandlerImpl(
    state,
    options.credentials ?? [EMULATOR_CREDENTIALS],
    options.now ?? Date.now,
  );
  const service = new EmulatedService('fc', new FcSyncService(handler));
  const url = await service.start(options.port);
  return { service, url, state, stop: () => service.stop() };
}
