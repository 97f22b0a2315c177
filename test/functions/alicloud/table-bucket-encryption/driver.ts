/**
 * The test kit of alicloud.table-bucket-encryption: its emulator endpoint, seeded compliant /
 * non-compliant / not-ready state, its conflict and throttle answers, its resource names, its
 * sample events, its fuzzing hints and bench figures. The hardening suites find it through the
 * manifest (test/hardening/drivers.ts); the lifecycle is the kit's (defineDriver).
 */
import fc from 'fast-check';
import { ALICLOUD_REGION } from '#core/validation';
import { ActionTrailCloudEvent } from '../../../../functions/alicloud/events.ts';
import {
  createOssTablesClient,
  parseTableBucketArn,
  TABLE_BUCKET_NAME,
  tableBucketArn,
} from '../../../../functions/alicloud/oss-tables.ts';
import { createRemediator as createTableBucketEncryption } from '../../../../functions/alicloud/table-bucket-encryption/remediator.ts';
import { type Config, parseConfig } from '../../../../functions/config.ts';
import { startOssTables } from '../../../emulator/oss-tables.ts';
import { hostileString, junk } from '../../../hardening/arbitraries.ts';
import {
  ACCOUNT,
  ALI_CREDENTIALS,
  aliNames,
  aliTargetProblems,
  defineDriver,
  escapeRegExp,
  NOT_READY_NA,
  nameOrHostile,
  RETRY,
  regional,
} from '../../../hardening/driver-kit.ts';

const OSS_KMS_KEY = 'acs:kms:cn-hangzhou:1234567890123456:key/key-hardening';
const bucketName = (i: number) => (i === 0 ? 'analytics-tables' : `analytics-tables-${i}`);
const bucketArn = (i: number) => `acs:osstables:cn-hangzhou:1234567890123456:bucket/${bucketName(i)}`;
/** A bucket ARN of the pattern (or a hostile string), for the fuzzer. */
const arnOrHostile = () =>
  fc.oneof(
    nameOrHostile(TABLE_BUCKET_NAME).map((n) => `acs:osstables:cn-hangzhou:${ACCOUNT}:bucket/${n}`),
    hostileString(),
  );

export function ossTableBucketDriver() {
  return defineDriver(
    {
      start: (o) => startOssTables(o),
      clear(e) {
        e.state.buckets.clear();
      },
      endpointVariable: 'ALIBABA_CLOUD_ENDPOINT_OSS_TABLES',
      build: (env) =>
        createTableBucketEncryption({
          credentials: ALI_CREDENTIALS,
          env,
          client: regional(createOssTablesClient, env),
        }),
    },
    (emulator, self) => ({
      id: 'alicloud.table-bucket-encryption' as const,
      floor: 'node-builtins',
      failedCode: 'BucketAlreadyExists',
      host: (r: string) => new RegExp(`^${escapeRegExp(r)}\\.oss-tables\\.aliyuncs\\.com$`),
      isResourceName: (r: string) => {
        const m = /^acs:osstables:([a-z0-9-]+):(\d+):bucket\/(.+)$/.exec(r);
        return m !== null && ALICLOUD_REGION.test(m[1] ?? '') && TABLE_BUCKET_NAME.test(m[3] ?? '');
      },
      matrix: { 'not ready': NOT_READY_NA },
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
      fuzz: {
        schema: ActionTrailCloudEvent,
        sample: 'alicloud/table-bucket-encryption/create-table-bucket.json',
        hints: {
          ...aliNames(['CreateTableBucket', 'DeleteTableBucketEncryption', 'PutTableBucketEncryption']),
          'data.requestParameters': fc.record(
            {
              name: nameOrHostile(TABLE_BUCKET_NAME),
              tableBucketARN: arnOrHostile(),
              encryptionConfiguration: junk(),
            },
            { requiredKeys: [] },
          ),
          'data.responseElements': fc.record({ arn: arnOrHostile() }, { requiredKeys: [] }),
        },
        check: (t) => {
          const parts = parseTableBucketArn(t.resource);
          return [
            ...aliTargetProblems(t),
            ...(TABLE_BUCKET_NAME.test(String(t.name)) ? [] : ['name']),
            ...(t.resource === tableBucketArn(t.region, t.account, String(t.name)) &&
            parts?.region === t.region
              ? []
              : ['arn']),
          ];
        },
      },
      samples: {
        creation: 'alicloud/table-bucket-encryption/create-table-bucket.json',
        tamper: 'alicloud/table-bucket-encryption/delete-table-bucket-encryption.json',
        own: 'alicloud/table-bucket-encryption/put-table-bucket-encryption-other.json',
        place(e, i, kind) {
          if (kind === 'creation') {
            e.data.requestParameters.name = bucketName(i);
            e.data.responseElements.arn = bucketArn(i);
          } else if (kind === 'tamper') e.data.requestParameters.tableBucketARN = bucketArn(i);
          else
            e.data.requestParameters = {
              tableBucketARN: bucketArn(i),
              encryptionConfiguration: { sseAlgorithm: 'AES256' },
            };
        },
      },
      seed(i = 0) {
        emulator().state.seedBucket(bucketName(i));
      },
      seedCompliant(i = 0) {
        emulator().state.seedBucket(bucketName(i), { encryption: { sseAlgorithm: 'AES256' } });
      },
      remove(i = 0) {
        emulator().state.deleteBucket(bucketArn(i));
      },
      encrypted(i = 0) {
        return emulator().state.bucket(bucketArn(i))?.encryption?.sseAlgorithm === 'AES256';
      },
      config: () =>
        parseConfig({ alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256' } }, retry: RETRY }),
      arrangeKey(kind: 'disabled' | 'missing') {
        // Only KMS names a key; the error code for an unusable one is UNCONFIRMED (400 InvalidArgument assumed).
        self.service.failNext('PutTableBucketEncryption', {
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
      strip(i = 0) {
        emulator().state.seedBucket(bucketName(i));
      },
    }),
  );
}

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = ossTableBucketDriver;
