/**
 * The test kit of alicloud.table-bucket-encryption: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events. The
 * hardening suites find it through the manifest (test/hardening/drivers.ts).
 */
import type { IncomingMessage } from 'node:http';
import { ALICLOUD_REGION } from '#core/validation';
import { createOssTablesClient, TABLE_BUCKET_NAME } from '../../../../functions/alicloud/oss-tables.ts';
import { createRemediator as createTableBucketEncryption } from '../../../../functions/alicloud/table-bucket-encryption/remediator.ts';
import { type Config, parseConfig } from '../../../../functions/config.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
import { type OssTablesEmulator, startOssTables } from '../../../emulator/oss-tables.ts';
import {
  ALI_CREDENTIALS,
  type AnyRemediator,
  type Driver,
  escapeRegExp,
  eventIdFor,
  NOT_READY_NA,
  RETRY,
  sample,
  TIMEOUT_MS,
} from '../../../hardening/driver-kit.ts';
import type { CallKind } from '../../../hardening/lag-proxy.ts';

// ------------------------------------------------------------------------------------------------
// alicloud.table-bucket-encryption — OSS Tables
// ------------------------------------------------------------------------------------------------

const OSS_KMS_KEY = 'acs:kms:cn-hangzhou:1234567890123456:key/key-hardening';
const bucketName = (i: number) => (i === 0 ? 'analytics-tables' : `analytics-tables-${i}`);
const bucketArn = (i: number) => `acs:osstables:cn-hangzhou:1234567890123456:bucket/${bucketName(i)}`;

export function ossTableBucketDriver(): Driver & { emulator: OssTablesEmulator } {
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'alicloud.table-bucket-encryption' as const,
    host: (r: string) => new RegExp(`^${escapeRegExp(r)}\\.oss-tables\\.aliyuncs\\.com$`),
    isResourceName: (r: string) => {
      const m = /^acs:osstables:([a-z0-9-]+):(\d+):bucket\/(.+)$/.exec(r);
      return m !== null && ALICLOUD_REGION.test(m[1] ?? '') && TABLE_BUCKET_NAME.test(m[3] ?? '');
    },
    matrix: { 'not ready': NOT_READY_NA },
    emulator: undefined as unknown as OssTablesEmulator,
    service: undefined as unknown as EmulatedService,
    url: '',
    readAction: 'GetTableBucketEncryption',
    writeAction: 'PutTableBucketEncryption',
    callsPerRead: 1,
    faults: {
      // OSS answers concurrent changes to one bucket with HTTP 409 (code UNCONFIRMED for Tables).
      conflict: { status: 409, code: 'OperationConflict' },
      throttle: { status: 429, code: 'TooManyRequests' },
      serverError: { status: 503, code: 'ServiceUnavailable' },
      goneOnWrite: { status: 404, code: 'NoSuchBucket' },
      denied: { status: 403, code: 'AccessDenied' },
    },
    async start() {
      driver.emulator = await startOssTables();
      driver.service = driver.emulator.service;
      driver.url = driver.emulator.url;
    },
    async stop() {
      await driver.emulator.stop();
    },
    reset() {
      driver.emulator.state.buckets.clear();
      driver.service.clearFaults();
      driver.service.resetLog();
    },
    seed(i = 0) {
      driver.emulator.state.seedBucket(bucketName(i));
    },
    remove(i = 0) {
      driver.emulator.state.deleteBucket(bucketArn(i));
    },
    encrypted(i = 0) {
      return driver.emulator.state.bucket(bucketArn(i))?.encryption?.sseAlgorithm === 'AES256';
    },
    config: () =>
      parseConfig({ alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256' } }, retry: RETRY }),
    arrangeKey(kind: 'disabled' | 'missing') {
      // Only KMS names a key; the error code for an unusable one is UNCONFIRMED (400 InvalidArgument assumed).
      driver.service.failNext('PutTableBucketEncryption', {
        status: 400,
        code: 'InvalidArgument',
        message: kind === 'disabled' ? 'the KMS key is disabled' : 'the KMS key does not exist',
        times: 99,
      });
      return {
        // Not through parseConfig: the config refuses KMS (the API accepts only AES256 today). The
        // remediator keeps its KMS path for the day it does; this cell keeps that path honest.
        config: {
          alicloud: { tableBucketEncryption: { sseAlgorithm: 'KMS', kmsKeyArn: OSS_KMS_KEY } },
          retry: RETRY,
        } as Config,
        code: 'InvalidArgument',
      };
    },
    remediator(endpoint?: string) {
      if (endpoint === undefined && main) return main;
      const env = driver.env(endpoint);
      const remediator = createTableBucketEncryption({
        credentials: ALI_CREDENTIALS,
        env,
        client: (region) =>
          createOssTablesClient({ region, credentials: ALI_CREDENTIALS, env, timeoutMs: TIMEOUT_MS }),
      });
      if (endpoint === undefined) main = remediator;
      return remediator;
    },
    event(i = 0, eventId?: string) {
      const e = sample('alicloud/table-bucket-encryption/create-table-bucket.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.requestParameters.name = bucketName(i);
      e.data.responseElements.arn = bucketArn(i);
      return e;
    },
    kindOf(req: IncomingMessage): CallKind {
      if (req.method === 'PUT') return 'write';
      return req.method === 'GET' ? 'read' : undefined;
    },
    restoreEndpoint() {},
    env: (endpoint?: string): Record<string, string> => ({
      ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: endpoint ?? driver.url,
    }),
    tamperEvent(i = 0, eventId?: string) {
      const e = sample('alicloud/table-bucket-encryption/delete-table-bucket-encryption.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.eventId = `tamper-${e.id}`;
      e.data.requestParameters.tableBucketARN = bucketArn(i);
      return e;
    },
    ownWriteEvent(i = 0, eventId?: string) {
      const e = sample('alicloud/table-bucket-encryption/put-table-bucket-encryption-other.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.eventId = `own-${e.id}`;
      e.data.requestParameters = {
        tableBucketARN: bucketArn(i),
        encryptionConfiguration: { sseAlgorithm: 'AES256' },
      };
      return e;
    },
    strip(i = 0) {
      driver.emulator.state.seedBucket(bucketName(i));
    },
  };
  return driver;
}

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = ossTableBucketDriver;
