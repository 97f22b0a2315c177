/**
 * Function Compute entry of alicloud.cluster-kms (EventBridge trigger on ActionTrail
 * `CreateCluster` and the tamper `UpdateKMSEncryption`, one CloudEvent per invocation; the SLS
 * log trigger of the trail path, a cursor range per invocation; plus its own delayed
 * re-invocations while the cluster is not ready). The handler is built on first use so a bad ATREST_CONFIG_JSON fails that
 * invocation with the field named, instead of failing the module import.
 */
import type { Config } from '#core/config';
import { createFcHandler, type FcContext, type FcHandlerOptions } from '../fc.ts';
import { createRemediator } from './remediator.ts';

/** How long a cluster may stay not ready before the event fails: config, default 120 minutes. */
export const deferDeadlineMs = (config: Config): number =>
  (config.alicloud?.clusterKms?.deferDeadlineMinutes ?? 120) * 60_000;

/** The handler's options; tests pass `env`, `engine` and friends on top. */
export function handlerOptions(overrides: Partial<FcHandlerOptions> = {}): FcHandlerOptions {
  return {
    create: (credentials, invocation) =>
      createRemediator({
        credentials,
        env: invocation.env,
        ...(invocation.context.accountId ? { account: invocation.context.accountId } : {}),
      }),
    deferDeadlineMs,
    ...overrides,
  };
}

let instance: ReturnType<typeof createFcHandler> | undefined;

export const handler = (event: Buffer | string | object, context?: FcContext) => {
  instance ??= createFcHandler(handlerOptions());
  return instance(event, context);
};
