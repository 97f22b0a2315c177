/**
 * Function Compute entry of alicloud.disk-default-kms: EventBridge trigger on ActionTrail
 * `EnableDiskEncryptionByDefault` and the tampers `ModifyDiskDefaultKMSKeyId`,
 * `DisableDiskEncryptionByDefault`, `ResetDiskDefaultKMSKeyId` (events.ts), the SLS log trigger of
 * the trail path when deployed, and an FC timer trigger. The timer event names no account, so the
 * account comes from the FC context or `FC_ACCOUNT_ID`. The adapter is fc.ts `fcFunction`.
 */
import { fcFunction } from '../fc.ts';
import { diskDefaultKmsConfig } from './config.ts';
import { createRemediator } from './remediator.ts';

const entry = fcFunction(createRemediator, { config: diskDefaultKmsConfig });

export const handler = entry.handler;
export const handlerOptions = entry.handlerOptions;
