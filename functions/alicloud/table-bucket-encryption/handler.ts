/**
 * Function Compute entry of alicloud.table-bucket-encryption (EventBridge trigger on
 * `CreateTableBucket` and the tampers `DeleteTableBucketEncryption` / `PutTableBucketEncryption`,
 * one CloudEvent per invocation; the SLS log trigger of the trail path, a cursor range per
 * invocation). The adapter is fc.ts `fcFunction`.
 */
import { fcFunction } from '../fc.ts';
import { tableBucketEncryptionConfig } from './config.ts';
import { createRemediator } from './remediator.ts';

const entry = fcFunction(createRemediator, { config: tableBucketEncryptionConfig });

export const handler = entry.handler;
export const handlerOptions = entry.handlerOptions;
