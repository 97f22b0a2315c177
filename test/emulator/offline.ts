/**
 * `npm run emulator`: every emulated service atrest's CLI talks to, on loopback, seeded with the
 * keys a config names and a few resources, so `atrest doctor`, `replay` and `sweep` can all be
 * tried offline. The services are the same ones the tests and `npm start` use; nothing here is
 * reachable from another machine (127.0.0.1, ports chosen by the OS).
 *
 * What is seeded: every key the config names (AWS: enabled, with the CloudWatch Logs key policy;
 * Alibaba: enabled, AES-256), the resources the sample events in events/ name (so `atrest replay
 * events/` has something to encrypt), a few more for `sweep` to find, and the ECS default-disk
 * setting of each configured region.
 */
import type { Config } from '../../functions/core/config.ts';
import { ALICLOUD_FUNCTION_IDS, ALICLOUD_TRIGGERS, eventPattern } from '../../infra/alicloud/atrest-stack.ts';
import { CONFIG_SECTIONS, functionSpec } from '../../infra/functions.ts';
import { type AckState, startAck } from './ack.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { startAlicloudDelivery } from './alicloud-delivery.ts';
import { startAlicloudKms } from './alicloud-kms.ts';
import { CREATE_LOG_GROUP_PATTERN, startAwsDelivery } from './aws-delivery.ts';
import { startAwsKms } from './aws-kms.ts';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from './cloudwatch-logs.ts';
import { startEcs } from './ecs.ts';
import type { EmulatedService } from './harness.ts';
import { startOssTables } from './oss-tables.ts';
import { startSls } from './sls.ts';

/** The account and regions the sample events use. */
export const AWS_ACCOUNT = '111122223333';
export const AWS_REGION = 'us-east-1';
export const ALI_REGION = 'cn-hangzhou';

export interface OfflineCloud {
  /** The variables to export: credentials (dummy) and every endpoint override (CONTRACT §4). */
  env: Record<string, string>;
  /** One line per seeded thing, for the operator. */
  seeded: string[];
  /** The ACK emulator's state (clusters, RBAC grants), for tests. */
  ack: AckState;
  stop(): Promise<void>;
}

export async function startOfflineCloud(config: Config): Promise<OfflineCloud> {
  const logs = await startCloudWatchLogs({ region: AWS_REGION, account: AWS_ACCOUNT });
  const awsKms = await startAwsKms();
  const sls = await startSls();
  const ack = await startAck();
  const ecs = await startEcs();
  const tables = await startOssTables();
  const aliKms = await startAlicloudKms({ region: ALI_REGION });
  const awsDelivery = await startAwsDelivery();
  const aliDelivery = await startAlicloudDelivery();
  const services: EmulatedService[] = [
    awsDelivery.cloudtrail,
    awsDelivery.eventbridge,
    aliDelivery.actiontrail,
    aliDelivery.eventbridge,
    logs.service,
    awsKms.service,
    sls.service,
    ack.service,
    ecs.service,
    tables.service,
    aliKms.service,
  ];
  const seeded: string[] = [];

  const lg = config.aws?.logGroupKms;
  for (const arn of lg ? [lg.kmsKeyArn, ...Object.values(lg.byRegion ?? {})] : []) {
    awsKms.state.seedKey({ arn });
    logs.state.seedKey(arn, { enabled: true, allowsLogs: true });
    seeded.push(`AWS KMS key ${arn} (enabled, CloudWatch Logs may use it)`);
  }
  // The groups the sample events name, plus two more for a sweep.
  for (const name of [
    '/app/orders/api',
    '/aws/rds/instance/orders-db/postgresql',
    '/app/payments/worker',
    '/app/search/indexer',
    '/app/billing/cron',
  ])
    logs.state.seedLogGroup(name);
  seeded.push(`CloudWatch Logs (${AWS_REGION}): 5 unencrypted log groups under /app and /aws/rds`);

  const ali = config.alicloud;
  const aliKeys = new Set(
    [
      ali?.clusterKms?.kmsKeyId,
      ali?.diskDefaultKms?.kmsKeyId,
      ali?.logstoreEncryption?.userCmkInfo?.keyId,
      ...Object.values(ali?.clusterKms?.byRegion ?? {}),
      ...Object.values(ali?.diskDefaultKms?.byRegion ?? {}),
    ].filter((k): k is string => typeof k === 'string'),
  );
  const diskRegions = [...new Set([ALI_REGION, ...(ali?.diskDefaultKms?.regions ?? [])])];
  for (const keyId of aliKeys) {
    aliKms.state.seedKey({ keyId });
    for (const region of diskRegions) ecs.state.seedKey(region, keyId);
    seeded.push(`Alibaba Cloud KMS key ${keyId} (enabled, Aliyun_AES_256)`);
  }
  for (const region of diskRegions)
    ecs.state.seedRegion(region, { encrypted: true, kmsKeyId: ecs.state.serviceKeyId(region) });
  seeded.push(`ECS (${diskRegions.join(', ')}): default disk encryption on, with the service key`);
  sls.state.seedLogstore('app-logs-prod', 'access-log');
  sls.state.seedLogstore('app-logs-prod', 'audit-log');
  seeded.push('SLS: project app-logs-prod with logstores access-log, audit-log (unencrypted)');
  tables.state.seedBucket('analytics-tables');
  seeded.push('OSS Tables: table bucket analytics-tables (no encryption)');
  ack.clusters.seed({
    clusterId: 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b',
    name: 'prod-payments',
    state: 'running',
  });
  seeded.push('ACK: cluster prod-payments, running, Secrets not encrypted');

  // What a deployed account looks like to doctor: a logging trail per cloud and atrest's rules.
  awsDelivery.trails.push({
    Name: 'org-trail',
    HomeRegion: AWS_REGION,
    IsMultiRegionTrail: true,
    isLogging: true,
  });
  awsDelivery.rules.push({
    Name: 'Atrest-OnCreateLogGroup',
    State: 'ENABLED',
    EventPattern: CREATE_LOG_GROUP_PATTERN,
  });
  aliDelivery.trails.push({
    Name: 'atrest-trail',
    SlsProjectArn: `acs:log:${ALI_REGION}:1234567890123456:project/actiontrail-atrest`,
    isLogging: true,
  });
  for (const id of ALICLOUD_FUNCTION_IDS) {
    const [, section] = CONFIG_SECTIONS[id];
    if ((ali as Record<string, unknown> | undefined)?.[section] === undefined) continue;
    aliDelivery.rules.push({
      RuleName: `atrest-${functionSpec(id).name}-actiontrail`,
      Status: 'ENABLE',
      FilterPattern: JSON.stringify(eventPattern(ALICLOUD_TRIGGERS[id])),
    });
  }
  seeded.push(
    'CloudTrail + ActionTrail: one logging trail each; EventBridge: the rules the stacks create, enabled',
  );

  const env: Record<string, string> = {
    ...awsDelivery.env,
    ...aliDelivery.env,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.service.url,
    AWS_ENDPOINT_URL_KMS: awsKms.service.url,
    ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
    ALIBABA_CLOUD_REGION_ID: ALI_REGION,
    ALIBABA_CLOUD_ENDPOINT_SLS: sls.url,
    ALIBABA_CLOUD_ENDPOINT_CS: ack.url,
    ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
    ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: tables.url,
    ALIBABA_CLOUD_ENDPOINT_KMS: aliKms.url,
  };
  return {
    env,
    seeded,
    ack: ack.clusters,
    stop: async () => {
      await Promise.all(services.map((s) => s.stop()));
    },
  };
}
