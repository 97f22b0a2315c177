/**
 * Function Compute entry of alicloud.table-bucket-encryption (EventBridge trigger, one CloudEvent
 * per invocation). Built on first use, so a bad ATREST_CONFIG_JSON fails that invocation with
 * the field named rather than the module import.
 */
import { createFcHandler, type FcContext } from '../fc.ts';
import { createRemediator } from './remediator.ts';

let instance: ReturnType<typeof createFcHandler> | undefined;

export const handler = (event: Buffer | string | object, context?: FcContext) => {
  instance ??= createFcHandler({ create: (credentials) => createRemediator({ credentials }) });
  return instance(event, context);
};
