/**
 * A function's deployed entry, found from its manifest (functions/<cloud>/<folder>/handler.ts) and
 * built as its platform builds it: on AWS the Lambda handler (`createHandler`), on Alibaba Cloud
 * the Function Compute adapter (`createFcHandler` with the folder's `handlerOptions`). The suites
 * that go through the platform (tamper restore, the demo's rows for functions its tour does not
 * cover) use this instead of a table of handler imports. Runs under vitest and under tsx alike.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { EngineDeps } from '#core/engine';
import type { IdempotencyStore } from '#core/idempotency';
import type { FunctionId, Outcome } from '#core/outcome';
import type { RestoreCounter } from '#core/restores';
import { createFcHandler, type FcContext, type FcHandlerOptions } from '../../functions/alicloud/fc.ts';
import type { HandlerDeps } from '../../functions/aws/log-group-kms/handler.ts';
import { manifestOf } from '../../functions/manifests.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { type Driver, type EventJson, setEnv } from './driver-kit.ts';

/** The Alibaba Cloud account and region the FC contexts of the suites run in. */
export const FC_ACCOUNT = '1234567890123456';

/** The function as deployed: `atrest-<folder>` (the infra's default prefix). */
export const deployedName = (id: FunctionId): string => `atrest-${manifestOf(id).folder}`;

/** Its handler module: Lambda's `createHandler`, or the FC adapter's `handlerOptions`. */
interface HandlerModule {
  createHandler?: (deps: HandlerDeps) => (event: unknown, context: Context) => Promise<Outcome[]>;
  handlerOptions?: (overrides: Partial<FcHandlerOptions>) => FcHandlerOptions;
}

export async function handlerModule(id: FunctionId): Promise<HandlerModule> {
  const { cloud, folder } = manifestOf(id);
  return (await import(`../../functions/${cloud}/${folder}/handler.ts`)) as HandlerModule;
}

/** The FC adapter options of an Alibaba Cloud function (its handler.ts `handlerOptions`). */
export async function fcOptionsOf(id: FunctionId): Promise<NonNullable<HandlerModule['handlerOptions']>> {
  const { handlerOptions } = await handlerModule(id);
  if (typeof handlerOptions !== 'function')
    throw new Error(`${id}: its handler.ts exports no handlerOptions`);
  return handlerOptions;
}

export const lambdaContext = (id: FunctionId): Context =>
  ({
    functionName: deployedName(id),
    invokedFunctionArn: `arn:aws:lambda:us-east-1:111122223333:function:${deployedName(id)}`,
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    getRemainingTimeInMillis: () => 60_000,
  }) as unknown as Context;

export const fcContext = (id: FunctionId, credentials = EMULATOR_CREDENTIALS): FcContext => ({
  requestId: 'fc-hardening',
  credentials,
  function: { name: deployedName(id), timeout: 60 },
  accountId: FC_ACCOUNT,
  region: 'cn-hangzhou',
});

export interface EntryDeps {
  /** The function's environment (config, store variables); the driver's endpoints are added. */
  env: Record<string, string>;
  /** Default: the platform's own, built from `env`. */
  store?: IdempotencyStore;
  restores?: RestoreCounter;
  engine?: Pick<EngineDeps, 'sleep' | 'random' | 'now'>;
  log?: (line: string) => void;
}

/** The entry for `d`'s function: it answers outcomes, or throws as the platform entry does (→ retry). */
export async function platformEntry(
  d: Driver,
  deps: EntryDeps,
): Promise<(event: EventJson) => Promise<Outcome[]>> {
  const optional = {
    ...(deps.store ? { store: deps.store } : {}),
    ...(deps.restores ? { restores: deps.restores } : {}),
    ...(deps.engine ? { engine: deps.engine } : {}),
  };
  if (manifestOf(d.id).cloud === 'aws') {
    // The module builds its own `handler` at import (Lambda init), from the process environment.
    if (deps.env.ATREST_CONFIG_JSON) setEnv('ATREST_CONFIG_JSON', deps.env.ATREST_CONFIG_JSON);
    const module = await handlerModule(d.id);
    if (typeof module.createHandler !== 'function')
      throw new Error(`${d.id}: its handler.ts exports no createHandler`);
    const handler = module.createHandler({
      env: { AWS_REGION: 'us-east-1', ...deps.env },
      logger: new Logger({ serviceName: 'atrest', logLevel: 'SILENT' }),
      remediator: d.remediator(),
      ...optional,
    });
    const context = lambdaContext(d.id);
    return (event) => handler(event, context);
  }
  const handlerOptions = await fcOptionsOf(d.id);
  const handler = createFcHandler(
    handlerOptions({ env: { ...deps.env, ...d.env() }, log: deps.log ?? (() => {}), ...optional }),
  );
  const context = fcContext(d.id);
  return (event) => handler(Buffer.from(JSON.stringify(event)), context);
}
