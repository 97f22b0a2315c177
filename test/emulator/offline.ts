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
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../functions/config.ts';
import { manifestOf } from '../../functions/manifests.ts';
import { ALICLOUD_FUNCTION_IDS, eventPattern, triggerOf } from '../../infra/alicloud/atrest-stack.ts';
import { functionSpec, REPO_ROOT } from '../../infra/functions.ts';
import { startCallerSts } from './accounts.ts';
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
import { type SlsEmulator, startSls } from './sls.ts';

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
  // Both clouds' STS: the CLI asks GetCallerIdentity for its own account.
  const sts = await startCallerSts();
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
  // The resources the Alibaba samples name (EventBridge, console, service and trail forms), plus
  // audit-log for a sweep to find.
  for (const logstore of ['access-log', 'console-log', 'service-log', 'trail-log', 'audit-log'])
    sls.state.seedLogstore('app-logs-prod', logstore);
  seeded.push('SLS: project app-logs-prod with 5 unencrypted logstores');
  for (const bucket of ['analytics-tables', 'console-tables', 'service-tables', 'trail-tables'])
    tables.state.seedBucket(bucket);
  seeded.push('OSS Tables: 4 table buckets without encryption');
  for (const [clusterId, name] of [
    ['c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b', 'prod-payments'],
    ['c4a2f9b7c3d5e5f6a0b1c2d3e4f5a6b7c', 'prod-web'],
    ['c5b3a0c8d4e6f6a7b1c2d3e4f5a6b7c8d', 'prod-batch'],
    ['c6c4b1d9e5f7a7b8c2d3e4f5a6b7c8d9e', 'prod-search'],
  ] as const)
    ack.clusters.seed({ clusterId, name, state: 'running' });
  seeded.push('ACK: 4 running clusters, Secrets not encrypted');
  seeded.push(
    `SLS trail logstore: ${seedTrail(sls.state)} ActionTrail records for the *.sls-trigger.json samples`,
  );

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
    const { section } = manifestOf(id);
    if ((ali as Record<string, unknown> | undefined)?.[section] === undefined) continue;
    aliDelivery.rules.push({
      RuleName: `atrest-${functionSpec(id).name}-actiontrail`,
      Status: 'ENABLE',
      FilterPattern: JSON.stringify(eventPattern(triggerOf(id))),
    });
  }
  seeded.push(
    'CloudTrail + ActionTrail: one logging trail each; EventBridge: the rules the stacks create, enabled',
  );

  const env: Record<string, string> = {
    ...sts.env,
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
      await Promise.all([...services.map((s) => s.stop()), sts.stop()]);
    },
  };
}

/**
 * The trail path's samples (`events/alicloud/<fn>/*.sls-trigger.json`) hand a function a cursor
 * range of a trail logstore; each gets its sibling `*.record.json` written to that shard, as the
 * trail would have. Returns how many records were written.
 */
function seedTrail(sls: SlsEmulator['state']): number {
  let written = 0;
  const root = join(REPO_ROOT, 'events', 'alicloud');
  for (const fn of readdirSync(root))
    for (const file of readdirSync(join(root, fn)).filter((f) => f.endsWith('.sls-trigger.json'))) {
      const trigger = JSON.parse(readFileSync(join(root, fn, file), 'utf8')) as {
        source?: { projectName?: string; logstoreName?: string; shardId?: number };
      };
      const { projectName, logstoreName, shardId } = trigger.source ?? {};
      if (projectName === undefined || logstoreName === undefined || shardId === undefined) continue;
      const record = readFileSync(join(root, fn, file.replace('.sls-trigger.json', '.record.json')), 'utf8');
      sls.appendLogs(projectName, logstoreName, shardId, {
        topic: 'actiontrail_audit_event',
        logs: [
          {
            time: Math.floor(Date.now() / 1000),
            contents: { __topic__: 'actiontrail_audit_event', event: JSON.stringify(JSON.parse(record)) },
          },
        ],
      });
      written++;
    }
  return written;
}
