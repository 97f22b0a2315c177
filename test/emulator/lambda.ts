/**
 * AWS Lambda Invoke, emulated at the wire: REST-JSON `POST /2015-03-31/functions/{name}/invocations`
 * (`?Qualifier=`), `X-Amz-Invocation-Type` RequestResponse | Event | DryRun, SigV4 checked for the
 * `lambda` signing name. An emulated function is a handler run in this process with a Lambda-shaped
 * context, so `atrest replay --remote` reaches the real handler code through the real client.
 *
 * As the real service: a handler that throws answers 200 with `X-Amz-Function-Error: Unhandled`
 * and `{"errorType","errorMessage","trace"}` as the payload; an unknown function is 404
 * `ResourceNotFoundException` (`x-amzn-errortype` header, `{"Type":"User","message"}` body); Event
 * answers 202 with an empty body (the handler still runs, after the answer); DryRun answers 204.
 */
import type { Context } from 'aws-lambda';
import {
  type Answer,
  EmulatedService,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';
import { header, secretsOf, verifySigV4 } from './sigv4.ts';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown> | unknown;

export interface LambdaInvocation {
  functionName: string;
  qualifier?: string;
  invocationType: 'RequestResponse' | 'Event' | 'DryRun';
  payload: unknown;
  /** Whether the handler threw. */
  error: boolean;
}

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
/** A function ARN (qualified or not) or a partial `account:function:name`, as Invoke accepts. */
const NAME_IN_ARN =
  /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?([A-Za-z0-9_-]{1,140})(?::([A-Za-z0-9$_-]+))?$/;

export class LambdaState {
  private readonly functions = new Map<string, { handler: LambdaHandler; timeoutMs: number }>();
  readonly invocations: LambdaInvocation[] = [];

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  /** Deploys `handler` as function `name` (timeout: what getRemainingTimeInMillis starts from). */
  seedFunction(name: string, handler: LambdaHandler, options: { timeoutMs?: number } = {}): this {
    this.functions.set(name, { handler, timeoutMs: options.timeoutMs ?? 60_000 });
    return this;
  }

  get(name: string): { handler: LambdaHandler; timeoutMs: number } | undefined {
    return this.functions.get(name);
  }

  arnOf(name: string): string {
    return `arn:aws:lambda:${this.region}:${this.account}:function:${name}`;
  }
}

/** The Context a Node.js Lambda handler receives, with a ticking remaining-time clock. */
export function lambdaContext(state: LambdaState, name: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: state.arnOf(name),
    memoryLimitInMB: '256',
    awsRequestId: nextRequestId(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/11/22/[$LATEST]emulator',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

const restJsonError = (status: number, code: string, message: string, requestId: string): Answer => ({
  status,
  body: JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message }),
  headers: {
    'content-type': 'application/json',
    'x-amzn-errortype': code,
    'x-amzn-requestid': requestId,
  },
});

class LambdaHandlerImpl implements ServiceHandler {
  readonly throttle = { status: 429, code: 'TooManyRequestsException' };

  constructor(
    private readonly state: LambdaState,
    private readonly secrets: ReadonlyMap<string, string>,
  ) {}

  action({ req, url }: RequestContext): string {
    return req.method === 'POST' && INVOKE.test(url.pathname) ? 'Invoke' : 'Unknown';
  }

  isWrite(action: string): boolean {
    return action === 'Invoke';
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return restJsonError(status, code, message, requestId);
  }

  async handle(ctx: RequestContext, action: string, log: (resource: string) => void): Promise<Answer> {
    if (action !== 'Invoke')
      throw new ServiceFailure(404, 'UnknownOperationException', `${ctx.req.method} ${ctx.url.pathname}`);
    await verifySigV4(ctx, this.secrets, 'lambda');
    const identifier = decodeURIComponent(INVOKE.exec(ctx.url.pathname)?.[1] ?? '');
    const parts = NAME_IN_ARN.exec(identifier);
    if (!parts)
      throw new ServiceFailure(
        400,
        'ValidationException',
        `1 validation error detected: FunctionName '${identifier}'`,
      );
    const name = parts[1] ?? '';
    const qualifier = ctx.url.searchParams.get('Qualifier') ?? parts[2];
    log(name);
    const fn = this.state.get(name);
    if (!fn || (qualifier !== undefined && qualifier !== '$LATEST'))
      throw new ServiceFailure(
        404,
        'ResourceNotFoundException',
        `Function not found: ${this.state.arnOf(name)}${qualifier ? `:${qualifier}` : ''}`,
      );
    const type = header(ctx.req.headers, 'x-amz-invocation-type') ?? 'RequestResponse';
    if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun')
      throw new ServiceFailure(400, 'InvalidParameterValueException', `invalid invocation type ${type}`);
    let payload: unknown;
    try {
      payload = ctx.body.length > 0 ? JSON.parse(ctx.body.toString('utf8')) : {};
    } catch {
      throw new ServiceFailure(
        400,
        'InvalidRequestContentException',
        'Could not parse request body into json',
      );
    }
    const requestId = nextRequestId();
    const base = { 'x-amzn-requestid': requestId, 'x-amz-executed-version': '$LATEST' };
    if (type === 'DryRun') return { status: 204, headers: base };
    const run = async (): Promise<{ result?: unknown; error?: Error }> => {
      try {
        return { result: await fn.handler(payload, lambdaContext(this.state, name, fn.timeoutMs)) };
      } catch (error) {
        return { error: error instanceof Error ? error : new Error(String(error)) };
      }
    };
    const record = (error: boolean) =>
      this.state.invocations.push({
        functionName: name,
        ...(qualifier !== undefined ? { qualifier } : {}),
        invocationType: type,
        payload,
        error,
      });
    if (type === 'Event') {
      void run().then((r) => record(r.error !== undefined));
      return { status: 202, headers: base };
    }
    const { result, error } = await run();
    record(error !== undefined);
    if (error)
      return {
        status: 200,
        body: JSON.stringify({
          errorType: error.name,
          errorMessage: error.message,
          trace: (error.stack ?? '').split('\n'),
        }),
        headers: { ...base, 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' },
      };
    return {
      status: 200,
      body: result === undefined ? 'null' : JSON.stringify(result),
      headers: { ...base, 'content-type': 'application/json' },
    };
  }
}

export interface StartLambdaOptions {
  region?: string;
  account?: string;
  credentials?: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }>;
  port?: number;
}

/** Starts the emulator; point the SDK at it with `AWS_ENDPOINT_URL_LAMBDA = service.url`. */
export async function startLambda(
  options: StartLambdaOptions = {},
): Promise<{ service: EmulatedService; state: LambdaState }> {
  const state = new LambdaState(options.region ?? 'us-east-1', options.account ?? '111122223333');
  const secrets = secretsOf(options.credentials);
  const service = new EmulatedService('lambda', new LambdaHandlerImpl(state, secrets));
  await service.start(options.port ?? 0);
  return { service, state };
}
