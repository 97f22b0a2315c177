/**
 * The five event parsers as fuzzing targets: each function's remediator factory, the zod schema of
 * its envelope, its sample event, hints that steer generated events past the envelope checks, and
 * what makes a returned target safe to use (every name matches the API's documented pattern; the
 * host built from the region is the fixed template). Shared by fuzz.test.ts and endpoints.test.ts.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { FunctionId } from '#core/outcome';
import type { Target } from '#core/remediator';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION, AWS_ACCOUNT, AWS_REGION } from '#core/validation';
import type { AlicloudCredentials } from '../../functions/alicloud/clients.ts';
import { endpointFor } from '../../functions/alicloud/clients.ts';
import {
  CLUSTER_ID,
  createRemediator as createClusterKms,
} from '../../functions/alicloud/cluster-kms/remediator.ts';
import {
  createRemediator as createDiskDefaultKms,
  EVENT_NAMES as DISK_EVENTS,
  resourceOf,
} from '../../functions/alicloud/disk-default-kms/remediator.ts';
import { ActionTrailCloudEvent } from '../../functions/alicloud/events.ts';
import { createRemediator as createLogstoreEncryption } from '../../functions/alicloud/logstore-encryption/remediator.ts';
import {
  parseTableBucketArn,
  TABLE_BUCKET_NAME,
  tableBucketArn,
} from '../../functions/alicloud/oss-tables.ts';
import { SLS_LOGSTORE, SLS_PROJECT } from '../../functions/alicloud/sls.ts';
import { createRemediator as createTableBucketEncryption } from '../../functions/alicloud/table-bucket-encryption/remediator.ts';
import {
  createRemediator as createLogGroupKms,
  DETAIL_TYPE,
  EventBridgeEnvelope,
  LOG_GROUP_NAME,
  logGroupArn,
  SOURCE,
} from '../../functions/aws/log-group-kms/remediator.ts';
import { parseConfig } from '../../functions/config.ts';
import { type Hints, hostileString, junk } from './arbitraries.ts';
import type { AnyRemediator, EventJson } from './drivers.ts';

export const ACCOUNT = '1234567890123456';
export const sample = (path: string): EventJson =>
  JSON.parse(readFileSync(new URL(`../../events/${path}`, import.meta.url), 'utf8'));

/** Every function switched on, so parse and desire both run. */
export const CONFIG = parseConfig({
  aws: {
    logGroupKms: {
      kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      exclude: ['^/aws/lambda/atrest-'],
    },
  },
  alicloud: {
    logstoreEncryption: { encryptType: 'default', exclude: ['^excluded/'] },
    clusterKms: { kmsKeyId: 'key-hz' },
    tableBucketEncryption: { sseAlgorithm: 'AES256' },
    diskDefaultKms: { kmsKeyId: 'key-disk', regions: ['cn-hangzhou', 'cn-beijing'] },
  },
});

/** No I/O while fuzzing: every resource reads as gone, and a write would be a bug. */
export const offline = (r: AnyRemediator): AnyRemediator => ({
  ...r,
  read: async () => ({ kind: 'gone' }),
  apply: async () => {
    throw new Error('fuzzing must not reach a write');
  },
});

const fuzzCredentials = (): AlicloudCredentials => ({
  accessKeyId: 'AKIDFUZZ',
  accessKeySecret: 'fuzz-secret',
});
export const credentials = fuzzCredentials;

export interface Parser {
  id: FunctionId;
  remediator: AnyRemediator;
  /** The same remediator with real clients, reading endpoints from `env`. */
  make(env: Record<string, string>): AnyRemediator;
  schema: unknown;
  sample: EventJson;
  hints: Hints;
  /** Why a target is not safe to use, or an empty list. */
  check(target: Target & Record<string, unknown>): string[];
}

export const aliNames = (names: readonly string[]): Hints => ({
  type: fc.constantFrom(
    'sls:ActionTrail:ApiCall',
    'cs:ActionTrail:ApiCall',
    'ecs:ActionTrail:ApiCall',
    'sls:ActionTrail:ConsoleOperation',
    'cs:ActionTrail:ConsoleOperation',
    'ecs:ActionTrail:AliyunServiceEvent',
  ),
  'data.eventName': fc.constantFrom(...names),
  'data.errorCode': fc.constant(null),
});
const aliBase = (t: Target): string[] => [
  ...(ALICLOUD_REGION.test(t.region) ? [] : [`region ${t.region}`]),
  ...(ALICLOUD_ACCOUNT.test(t.account) ? [] : [`account ${t.account}`]),
];
const name = (pattern: RegExp) => fc.oneof(fc.stringMatching(pattern), hostileString());

export const PARSERS: Parser[] = [
  {
    id: 'aws.log-group-kms',
    remediator: createLogGroupKms(),
    make: () => createLogGroupKms(),
    schema: EventBridgeEnvelope(),
    sample: sample('aws/log-group-kms/create-log-group.json'),
    hints: {
      source: fc.constant(SOURCE),
      'detail-type': fc.constant(DETAIL_TYPE),
      'detail.eventSource': fc.constant('logs.amazonaws.com'),
      // The creation and the tamper events (CONTRACT section 6).
      'detail.eventName': fc.constantFrom('CreateLogGroup', 'DisassociateKmsKey', 'AssociateKmsKey'),
      'detail.errorCode': fc.constant(null),
      'detail.requestParameters': fc.record(
        {
          logGroupName: name(LOG_GROUP_NAME),
          kmsKeyId: junk(),
          resourceIdentifier: fc.oneof(
            name(LOG_GROUP_NAME).map((n) => `arn:aws:logs:us-east-1:111122223333:log-group:${n}`),
            hostileString(),
          ),
        },
        { requiredKeys: [] },
      ),
    },
    check: (t) => [
      ...(AWS_REGION.test(t.region) ? [] : [`region ${t.region}`]),
      ...(AWS_ACCOUNT.test(t.account) ? [] : [`account ${t.account}`]),
      ...(LOG_GROUP_NAME.test(String(t.logGroupName)) ? [] : [`name ${t.logGroupName}`]),
      ...(t.resource === logGroupArn(t.region, t.account, String(t.logGroupName)) ? [] : ['resource']),
    ],
  },
  {
    id: 'alicloud.logstore-encryption',
    remediator: createLogstoreEncryption({ credentials, env: {} }),
    make: (env) => createLogstoreEncryption({ credentials, env }),
    schema: ActionTrailCloudEvent(),
    sample: sample('alicloud/logstore-encryption/create-logstore.json'),
    hints: {
      ...aliNames(['CreateLogStore', 'UpdateLogStoreEncryption']),
      'data.requestParameters': fc.record(
        { ProjectName: name(SLS_PROJECT), logstoreName: name(SLS_LOGSTORE), enable: junk() },
        { requiredKeys: [] },
      ),
      'data.referencedResources': fc.record({
        'ACS::SLS::LogStore': fc.array(fc.oneof(fc.constant('app-logs-prod/access-log'), hostileString()), {
          maxLength: 2,
        }),
      }),
    },
    check: (t) => [
      ...aliBase(t),
      ...(SLS_PROJECT.test(String(t.project)) && SLS_LOGSTORE.test(String(t.logstore)) ? [] : ['names']),
      ...(t.resource === `${t.project}/${t.logstore}` ? [] : ['resource']),
      ...(endpointFor('SLS', t.region, {}).host === `${t.region}.log.aliyuncs.com` ? [] : ['host']),
    ],
  },
  {
    id: 'alicloud.cluster-kms',
    remediator: createClusterKms({ credentials, env: {}, account: ACCOUNT }),
    make: (env) => createClusterKms({ credentials, env, account: ACCOUNT }),
    schema: ActionTrailCloudEvent(),
    sample: sample('alicloud/cluster-kms/create-cluster.json'),
    hints: {
      ...aliNames(['CreateCluster', 'UpdateKMSEncryption']),
      'data.responseElements': fc.record({ cluster_id: name(CLUSTER_ID) }, { requiredKeys: [] }),
      'data.requestParameters': fc.record(
        { name: junk(), ClusterId: name(CLUSTER_ID), disable_encryption: junk(), kms_key_id: junk() },
        { requiredKeys: [] },
      ),
    },
    check: (t) => [
      ...aliBase(t),
      ...(CLUSTER_ID.test(String(t.clusterId)) && t.resource === t.clusterId ? [] : ['cluster id']),
      ...(endpointFor('CS', t.region, {}).host === `cs.${t.region}.aliyuncs.com` ? [] : ['host']),
    ],
  },
  {
    id: 'alicloud.table-bucket-encryption',
    remediator: createTableBucketEncryption({ credentials, env: {} }),
    make: (env) => createTableBucketEncryption({ credentials, env }),
    schema: ActionTrailCloudEvent(),
    sample: sample('alicloud/table-bucket-encryption/create-table-bucket.json'),
    hints: {
      ...aliNames(['CreateTableBucket', 'DeleteTableBucketEncryption', 'PutTableBucketEncryption']),
      'data.requestParameters': fc.record(
        {
          name: name(TABLE_BUCKET_NAME),
          tableBucketARN: fc.oneof(
            name(TABLE_BUCKET_NAME).map((n) => `acs:osstables:cn-hangzhou:${ACCOUNT}:bucket/${n}`),
            hostileString(),
          ),
          encryptionConfiguration: junk(),
        },
        { requiredKeys: [] },
      ),
      'data.responseElements': fc.record(
        {
          arn: fc.oneof(
            name(TABLE_BUCKET_NAME).map((n) => `acs:osstables:cn-hangzhou:${ACCOUNT}:bucket/${n}`),
            hostileString(),
          ),
        },
        { requiredKeys: [] },
      ),
    },
    check: (t) => {
      const parts = parseTableBucketArn(t.resource);
      return [
        ...aliBase(t),
        ...(TABLE_BUCKET_NAME.test(String(t.name)) ? [] : ['name']),
        ...(t.resource === tableBucketArn(t.region, t.account, String(t.name)) && parts?.region === t.region
          ? []
          : ['arn']),
      ];
    },
  },
  {
    id: 'alicloud.disk-default-kms',
    remediator: createDiskDefaultKms({ credentials, env: {}, account: ACCOUNT }),
    make: (env) => createDiskDefaultKms({ credentials, env, account: ACCOUNT }),
    schema: ActionTrailCloudEvent(),
    sample: sample('alicloud/disk-default-kms/modify-disk-default-kms-key-id.json'),
    hints: {
      ...aliNames(DISK_EVENTS),
      'data.requestParameters': fc.record({ RegionId: junk(), KMSKeyId: junk() }, { requiredKeys: [] }),
    },
    check: (t) => [
      ...aliBase(t),
      ...(t.resource === resourceOf(t.region, t.account) ? [] : ['resource']),
      ...(endpointFor('ECS', t.region, {}).host === `ecs.${t.region}.aliyuncs.com` ? [] : ['host']),
    ],
  },
];
