/**
 * Function Compute entry of alicloud.logstore-encryption (the SLS log trigger of the trail path, a
 * cursor range per invocation; EventBridge trigger on ActionTrail `CreateLogStore` and the tamper
 * `UpdateLogStoreEncryption`, one CloudEvent per invocation). The adapter is fc.ts `fcFunction`.
 */
import { fcFunction } from '../fc.ts';
import { logstoreEncryptionConfig } from './config.ts';
import { createRemediator } from './remediator.ts';

const entry = fcFunction(createRemediator, { config: logstoreEncryptionConfig });

export const handler = entry.handler;
export const handlerOptions = entry.handlerOptions;
