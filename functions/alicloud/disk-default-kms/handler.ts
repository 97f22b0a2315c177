/**
 * Function Compute entry of alicloud.disk-default-kms: EventBridge trigger on ActionTrail
 * `EnableDiskEncryptionByDefault` and the tampers `ModifyDiskDefaultKMSKeyId`,
 * `DisableDiskEncryptionByDefault`, `ResetDiskDefaultKMSKeyId` (events.ts), the SLS log trigger of
 * the trail path when deployed, and an FC timer trigger. The
 * timer event names no account, so the account comes from the FC context or `FC_ACCOUNT_ID`.
 * The handler is built on first use so a bad ATREST_CONFIG_JSON fails that invocation with the
 * field named, instead of failing the module import.
 */
import { createFcHandler, type FcContext, type FcHandlerOptions } from '../fc.ts';
import { createRemediator } from './remediator.ts';

/** The handler's options; tests pass `env`, `engine` and friends on top. */
export function handlerOptions(overrides: Partial<FcHandlerOptions> = {}): FcHandlerOptions {
  return {
    create: (credentials, { context, env }) => {
      const account = context.accountId ?? env.FC_ACCOUNT_ID;
      return createRemediator({ credentials, env, ...(account ? { account } : {}) });
    },
    ...overrides,
  };
}

let instance: ReturnType<typeof createFcHandler> | undefined;

export const handler = (event: Buffer | string | object, context?: FcContext) => {
  instance ??= createFcHandler(handlerOptions());
  return instance(event, context);
};
