/**
 * Function Compute entry of alicloud.table-bucket-encryption (EventBridge trigger on
 * `CreateTableBucket` and the tampers `DeleteTableBucketEncryption` / `PutTableBucketEncryption`,
 * one CloudEvent per invocation; the SLS log trigger of the trail path, a cursor range per
 * invocation). The handler is built on first use so a bad ATREST_CONFIG_JSON fails
 * that invocation with the field named, instead of failing the module import.
 */
import { createFcHandler, type FcContext, type FcHandlerOptions } from '../fc.ts';
import { createRemediator } from './remediator.ts';

/** The handler's options; tests and the demo pass `env`, `engine` and friends on top. */
export function handlerOptions(overrides: Partial<FcHandlerOptions> = {}): FcHandlerOptions {
  return {
    create: (credentials, { env }) => createRemediator({ credentials, env }),
    ...overrides,
  };
}

let instance: ReturnType<typeof createFcHandler> | undefined;

export const handler = (event: Buffer | string | object, context?: FcContext) => {
  instance ??= createFcHandler(handlerOptions());
  return instance(event, context);
};
