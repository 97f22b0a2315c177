/**
 * `atrest replay --remote`: each event to the deployed function that owns it, synchronously, and
 * the function's own outcome lines printed as NDJSON.
 *
 * - AWS: Lambda `Invoke` (RequestResponse) through @aws-sdk/client-lambda, in the event's region.
 *   The handler returns Outcome[]; when an outcome is failed or deferred it throws, and Lambda
 *   answers `FunctionError` with the outcomes as JSON inside `errorMessage`: those are printed.
 * - Alibaba Cloud: Function Compute 3.0 `InvokeFunction` (`POST /2023-03-30/functions/{name}/invocations`,
 *   `x-fc-invocation-type: Sync`) through functions/alicloud/openapi.ts. FC 3.0 functions have no
 *   service, and the 2016-08-15 API of @alicloud/fc2 addresses functions through one, so fc2 is
 *   used only with `--fc2-service NAME`, for functions still deployed on an FC 2.0 service. Both
 *   reach the endpoint of `endpointFor('FC', …)` (`ALIBABA_CLOUD_ENDPOINT_FC` overrides it). A
 *   function that throws answers `x-fc-error-type` with `errorMessage` carrying the outcomes.
 *
 * Every event is routed and placed (function, region, account) before the first invocation, so a
 * usage problem stops the run before anything is invoked. An invocation that fails (no such
 * function, access denied, timeout) is a `failed` line with the service's code.
 */
import * as z from 'zod/mini';
import { toOutcomeError } from '#core/engine';
import type { RemediationError } from '#core/errors';
import { type FunctionId, OUTCOMES, type Outcome, type OutcomeError } from '#core/outcome';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import { credentialsFrom, endpointFor } from '../alicloud/clients.ts';
import { classifyAlicloud, createAlicloudApi } from '../alicloud/openapi.ts';
import { classifyAwsError } from '../aws/errors.ts';
import { bounded } from '../aws/http.ts';
import { FUNCTION_IDS } from '../manifests.ts';
import { Registry } from './registry.ts';
import { collect, unroutable } from './replay.ts';
import { UsageError } from './usage.ts';

export interface RemoteOptions {
  env: Record<string, string | undefined>;
  emit: (outcome: Outcome) => void;
  log: (line: string) => void;
  /** Default: `atrest-<name>` (the name infra deploys, e.g. `atrest-log-group-kms`). */
  functionName?: string;
  /** Default: the event's own region. */
  region?: string;
  /** Alibaba Cloud account (the FC endpoint contains it). Default: the event's account. */
  account?: string;
  /** Lambda alias/version, FC qualifier. */
  qualifier?: string;
  /** Invoke through @alicloud/fc2 (FC 2.0 API) in this service instead of FC 3.0. */
  fc2Service?: string;
  registry?: Registry;
  /** The text of standard input, when a path is `-`. */
  stdin?: string;
}

/** How long a synchronous invocation may take: the longest function timeout (FC and Lambda allow 15 min). */
const INVOKE_TIMEOUT_MS = 15 * 60_000 + 30_000;
/** Enough of a foreign error message to act on, never a flood. */
const MAX_MESSAGE = 2_000;

interface Plan {
  source: string;
  event: unknown;
  id: FunctionId;
  functionName: string;
  region: string;
  account?: string;
  eventId: string;
}

/** The default deployed name of a function: `atrest-<name>` for `<cloud>.<name>`. */
export const defaultFunctionName = (id: FunctionId): string => `atrest-${id.slice(id.indexOf('.') + 1)}`;

export async function replayRemote(paths: string[], options: RemoteOptions): Promise<Outcome[]> {
  const registry = options.registry ?? new Registry({ env: options.env });
  const steps: Array<Plan | Outcome> = [];
  for (const item of collect(paths, options.stdin)) {
    const remediator = item.problem === undefined ? await registry.route(item.event) : undefined;
    if (!remediator) {
      steps.push(unroutable(item, Date.now(), false));
      continue;
    }
    steps.push(plan(item.source, item.event, remediator.id, options));
  }
  if (steps.some((s) => 'functionName' in s && s.id.startsWith('alicloud.')))
    // Fails here (ConfigError, exit 2) rather than inside the first invocation.
    credentialsFrom(undefined, options.env);

  const outcomes: Outcome[] = [];
  const invoker = new Invoker(options);
  for (const step of steps) {
    let lines: Outcome[];
    if ('functionName' in step) {
      options.log(`atrest: ${step.source} -> ${step.functionName} (${step.id}, ${step.region})`);
      lines = await invoker.invoke(step);
    } else {
      lines = [step];
    }
    for (const line of lines) {
      outcomes.push(line);
      options.emit(line);
    }
  }
  return outcomes;
}

/** Where an event's function runs: name, region and account, from the flags or the event. */
function plan(source: string, event: unknown, id: FunctionId, options: RemoteOptions): Plan {
  const facts = eventPlacement(event);
  const aws = id.startsWith('aws.');
  const region = options.region ?? facts.region;
  if (region === undefined) throw new UsageError(`${source}: the event names no region; pass --region`);
  if (!(aws ? AWS_REGION : ALICLOUD_REGION).test(region))
    throw new UsageError(`${source}: ${JSON.stringify(region)} is not a region`);
  const account = options.account ?? facts.account;
  if (!aws) {
    if (account !== undefined && !ALICLOUD_ACCOUNT.test(account))
      throw new UsageError(`--account: ${JSON.stringify(account)} is not an Alibaba Cloud account id`);
    const overridden = (options.env.ALIBABA_CLOUD_ENDPOINT_FC ?? '') !== '';
    if (account === undefined && (!overridden || options.fc2Service !== undefined))
      throw new UsageError(
        `${source}: the event names no account (the FC endpoint needs it); pass --account`,
      );
  } else if (options.fc2Service !== undefined) {
    throw new UsageError('--fc2-service applies to Alibaba Cloud events only');
  }
  return {
    source,
    event,
    id,
    functionName: options.functionName ?? defaultFunctionName(id),
    region,
    ...(account !== undefined ? { account } : {}),
    eventId: facts.eventId ?? '',
  };
}

/** Region, account and id as the envelope carries them (EventBridge for AWS, CloudEvents for Alibaba Cloud). */
export function eventPlacement(event: unknown): { region?: string; account?: string; eventId?: string } {
  if (typeof event !== 'object' || event === null) return {};
  const e = event as Record<string, unknown>;
  const detail = (typeof e.detail === 'object' && e.detail !== null ? e.detail : {}) as Record<
    string,
    unknown
  >;
  const data = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as Record<string, unknown>;
  const identity = (
    typeof data.userIdentity === 'object' && data.userIdentity !== null ? data.userIdentity : {}
  ) as Record<string, unknown>;
  const str = (...values: unknown[]) => values.find((v): v is string => typeof v === 'string' && v !== '');
  const region = str(detail.awsRegion, e.region, data.acsRegion, e.aliyunregionid);
  const account = str(e.aliyunaccountid, identity.accountId, e.account, detail.recipientAccountId);
  const eventId = str(e.id);
  return {
    ...(region !== undefined ? { region } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(eventId !== undefined ? { eventId } : {}),
  };
}

// ------------------------------------------------------------------------------------------------
// The function's answer → outcome lines (pure)
// ------------------------------------------------------------------------------------------------

const RemoteOutcome = z.looseObject({
  function: z.enum(FUNCTION_IDS as [FunctionId, ...FunctionId[]]),
  eventId: z.string(),
  resource: z.string(),
  region: z.string(),
  account: z.optional(z.string()),
  outcome: z.enum(OUTCOMES),
  attempts: z.number(),
  durationMs: z.number(),
  dryRun: z.boolean(),
  reason: z.optional(z.string()),
  error: z.optional(
    z.looseObject({ code: z.string(), message: z.string(), requestId: z.optional(z.string()) }),
  ),
});

/** An array of outcomes as the deployed handler returns them, keeping only the contract's fields. */
export function asOutcomes(value: unknown): Outcome[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: Outcome[] = [];
  for (const item of value) {
    const parsed = RemoteOutcome.safeParse(item);
    if (!parsed.success) return undefined;
    const o = parsed.data;
    out.push({
      function: o.function,
      eventId: o.eventId,
      resource: o.resource,
      region: o.region,
      ...(o.account !== undefined ? { account: o.account } : {}),
      outcome: o.outcome,
      attempts: o.attempts,
      durationMs: o.durationMs,
      dryRun: o.dryRun,
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
      ...(o.error !== undefined
        ? {
            error: {
              code: o.error.code,
              message: o.error.message,
              ...(o.error.requestId !== undefined ? { requestId: o.error.requestId } : {}),
            },
          }
        : {}),
    });
  }
  return out;
}

/**
 * The outcomes inside a handler's error message: both handlers end it with the JSON array
 * (`atrest: 1 outcome(s) not settled: [...]`, `atrest <id>: 1 of 1 outcome(s) failed: [...]`).
 */
export function outcomesInMessage(message: string): Outcome[] | undefined {
  let tries = 0;
  for (let at = message.indexOf('['); at >= 0 && tries < 50; at = message.indexOf('[', at + 1), tries++) {
    try {
      const found = asOutcomes(JSON.parse(message.slice(at)));
      if (found) return found;
    } catch {
      // Not the array yet: a bracket inside the prefix.
    }
  }
  return undefined;
}

const FunctionErrorPayload = z.looseObject({
  errorType: z.optional(z.string()),
  errorMessage: z.optional(z.string()),
});

/** Outcome lines from what the function answered: its result, or its error with the outcomes inside. */
export function outcomesFromAnswer(
  plan: Pick<Plan, 'id' | 'eventId' | 'region'>,
  text: string,
  functionError: string | undefined,
  requestId?: string,
  durationMs = 0,
): Outcome[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (functionError === undefined) {
    const outcomes = asOutcomes(value);
    if (outcomes) return outcomes;
    return [
      invocationFailed(
        plan,
        {
          code: 'InvalidFunctionResult',
          message: `the function answered without outcome lines: ${clip(text)}`,
          ...(requestId !== undefined ? { requestId } : {}),
        },
        durationMs,
      ),
    ];
  }
  const payload = FunctionErrorPayload.safeParse(value);
  const message = payload.success ? (payload.data.errorMessage ?? text) : text;
  const inside = outcomesInMessage(message);
  if (inside) return inside;
  return [
    invocationFailed(
      plan,
      {
        code: (payload.success ? payload.data.errorType : undefined) ?? functionError,
        message: clip(message),
        ...(requestId !== undefined ? { requestId } : {}),
      },
      durationMs,
    ),
  ];
}

/** The line for an invocation that produced no outcome of the function's own. */
function invocationFailed(
  plan: Pick<Plan, 'id' | 'eventId' | 'region'>,
  error: OutcomeError,
  durationMs = 0,
): Outcome {
  return {
    function: plan.id,
    eventId: plan.eventId,
    resource: '',
    region: plan.region,
    outcome: 'failed',
    attempts: 0,
    durationMs,
    dryRun: false,
    error,
  };
}

const clip = (text: string): string => (text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text);

const headerOf = (headers: Record<string, unknown> | undefined, name: string): string | undefined => {
  const value = headers?.[name] ?? headers?.[name.toLowerCase()];
  if (Array.isArray(value)) return value.join(',');
  return typeof value === 'string' && value !== '' ? value : undefined;
};

// ------------------------------------------------------------------------------------------------
// The invocations (I/O)
// ------------------------------------------------------------------------------------------------

type LambdaModule = typeof import('@aws-sdk/client-lambda');

class Invoker {
  private lambda?: LambdaModule;
  private readonly lambdaClients = new Map<string, InstanceType<LambdaModule['LambdaClient']>>();

  constructor(private readonly options: RemoteOptions) {}

  async invoke(plan: Plan): Promise<Outcome[]> {
    const body = Buffer.from(JSON.stringify(plan.event), 'utf8');
    if (plan.id.startsWith('aws.')) return this.lambdaInvoke(plan, body);
    if (this.options.fc2Service !== undefined) return this.fc2Invoke(plan, body, this.options.fc2Service);
    return this.fc3Invoke(plan, body);
  }

  private async lambdaInvoke(plan: Plan, body: Buffer): Promise<Outcome[]> {
    const started = Date.now();
    this.lambda ??= await import('@aws-sdk/client-lambda');
    let client = this.lambdaClients.get(plan.region);
    if (!client) {
      // Credentials and AWS_ENDPOINT_URL_LAMBDA come from the SDK's own chain.
      // The deadline covers the longest synchronous invocation; the cap, Lambda's 6 MB response payload.
      client = bounded(
        new this.lambda.LambdaClient({
          region: plan.region,
          requestHandler: { requestTimeout: INVOKE_TIMEOUT_MS },
        }),
        { deadlineMs: INVOKE_TIMEOUT_MS, maxBodyBytes: 8 * 1024 * 1024 },
      );
      this.lambdaClients.set(plan.region, client);
    }
    try {
      const out = await client.send(
        new this.lambda.InvokeCommand({
          FunctionName: plan.functionName,
          InvocationType: 'RequestResponse',
          Payload: body,
          ...(this.options.qualifier !== undefined ? { Qualifier: this.options.qualifier } : {}),
        }),
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
      return outcomesFromAnswer(plan, text, out.FunctionError, out.$metadata.requestId, Date.now() - started);
    } catch (error) {
      return [invocationFailed(plan, outcomeError(classifyAwsError(error)), Date.now() - started)];
    }
  }

  private async fc3Invoke(plan: Plan, body: Buffer): Promise<Outcome[]> {
    const started = Date.now();
    const env = this.options.env;
    const api = createAlicloudApi({
      credentials: () => credentialsFrom(undefined, env),
      env,
      ...(plan.account !== undefined ? { account: plan.account } : {}),
      readTimeoutMs: INVOKE_TIMEOUT_MS,
    });
    try {
      const res = await api.roa('FC', plan.region, {
        action: 'InvokeFunction',
        method: 'POST',
        pathname: `/2023-03-30/functions/${encodeURIComponent(plan.functionName)}/invocations`,
        ...(this.options.qualifier !== undefined ? { query: { qualifier: this.options.qualifier } } : {}),
        headers: { 'x-fc-invocation-type': 'Sync' },
        raw: body,
        // The answer is the function's own return value (an array), not an API object: keep it as text.
        bodyType: 'none',
      });
      const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
      return outcomesFromAnswer(
        plan,
        text,
        headerOf(res.headers, 'x-fc-error-type'),
        headerOf(res.headers, 'x-fc-request-id'),
        Date.now() - started,
      );
    } catch (error) {
      return [invocationFailed(plan, outcomeError(classifyAlicloud(error)), Date.now() - started)];
    }
  }

  private async fc2Invoke(plan: Plan, body: Buffer, service: string): Promise<Outcome[]> {
    const started = Date.now();
    const env = this.options.env;
    const { default: FC } = await import('@alicloud/fc2');
    const endpoint = endpointFor('FC', plan.region, env, plan.account);
    const credentials = credentialsFrom(undefined, env);
    const client = new FC(plan.account ?? '', {
      accessKeyID: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      ...(credentials.securityToken !== undefined ? { securityToken: credentials.securityToken } : {}),
      region: plan.region,
      secure: endpoint.protocol === 'https',
      endpoint: `${endpoint.protocol}://${endpoint.host}`,
      timeout: INVOKE_TIMEOUT_MS,
    });
    try {
      const res = await client.invokeFunction(
        service,
        plan.functionName,
        body,
        { 'x-fc-invocation-type': 'Sync' },
        this.options.qualifier,
      );
      const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
      return outcomesFromAnswer(
        plan,
        text,
        headerOf(res.headers, 'x-fc-error-type'),
        headerOf(res.headers, 'x-fc-request-id'),
        Date.now() - started,
      );
    } catch (error) {
      // fc2 errors carry `code` (the service's ErrorCode) and no status; the message holds the request id.
      return [invocationFailed(plan, outcomeError(classifyAlicloud(error)), Date.now() - started)];
    }
  }
}

function outcomeError(error: RemediationError): OutcomeError {
  const e = toOutcomeError(error);
  return { ...e, message: clip(e.message) };
}
