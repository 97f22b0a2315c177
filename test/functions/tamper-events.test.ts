/**
 * The tamper events each function owns (CONTRACT.md section 6), parsed from their samples in
 * events/: which are tampers, which set the configured state (atrest's own write) and end
 * `ignored` without a read, and how `enforce: "create"` and failed calls end.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Parsed, Target } from '#core/remediator';
import * as clusterEvents from '../../functions/alicloud/cluster-kms/events.ts';
import * as cluster from '../../functions/alicloud/cluster-kms/remediator.ts';
import * as diskEvents from '../../functions/alicloud/disk-default-kms/events.ts';
import * as disk from '../../functions/alicloud/disk-default-kms/remediator.ts';
import * as logstoreEvents from '../../functions/alicloud/logstore-encryption/events.ts';
import * as logstore from '../../functions/alicloud/logstore-encryption/remediator.ts';
import * as bucketEvents from '../../functions/alicloud/table-bucket-encryption/events.ts';
import * as bucket from '../../functions/alicloud/table-bucket-encryption/remediator.ts';
import * as logGroup from '../../functions/aws/log-group-kms/remediator.ts';
import { Registry } from '../../functions/cli/registry.ts';
import { parseConfig } from '../../functions/config.ts';

// biome-ignore lint/suspicious/noExplicitAny: samples are edited field by field.
const sample = (path: string): any =>
  JSON.parse(readFileSync(new URL(`../../events/${path}.json`, import.meta.url), 'utf8'));

const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ACK_KEY = 'key-hzz6a1b2c3d4e5f6g7h8i';
const CONFIG = parseConfig({
  aws: { logGroupKms: { kmsKeyArn: AWS_KEY } },
  alicloud: {
    logstoreEncryption: { encryptType: 'default' },
    clusterKms: { kmsKeyId: ACK_KEY },
    tableBucketEncryption: { sseAlgorithm: 'AES256' },
    diskDefaultKms: { kmsKeyId: 'k' },
  },
});
const CREATE_ONLY = parseConfig({
  aws: { logGroupKms: { kmsKeyArn: AWS_KEY, enforce: 'create' } },
  alicloud: {
    logstoreEncryption: { encryptType: 'default', enforce: 'create' },
    clusterKms: { kmsKeyId: ACK_KEY, enforce: 'create' },
    tableBucketEncryption: { sseAlgorithm: 'AES256', enforce: 'create' },
    diskDefaultKms: { kmsKeyId: 'k', enforce: 'create' },
  },
});

const parsers: Record<string, (event: unknown, config: typeof CONFIG) => Parsed<Target>> = {
  'aws/log-group-kms': logGroup.parseEvent,
  'alicloud/logstore-encryption': logstore.parseEvent,
  'alicloud/cluster-kms': cluster.parseEvent,
  'alicloud/table-bucket-encryption': bucket.parseEvent,
  'alicloud/disk-default-kms': (e, c) => disk.parseEvent(e, c, '1234567890123456'),
};

const TAMPER_SAMPLES: [string, string, string][] = [
  ['aws/log-group-kms', 'disassociate-kms-key', 'DisassociateKmsKey'],
  ['aws/log-group-kms', 'associate-kms-key-other-key', 'AssociateKmsKey'],
  ['alicloud/logstore-encryption', 'update-logstore-encryption-disable', 'UpdateLogStoreEncryption'],
  ['alicloud/cluster-kms', 'update-kms-encryption-disable', 'UpdateKMSEncryption'],
  ['alicloud/cluster-kms', 'update-kms-encryption-other-key', 'UpdateKMSEncryption'],
  ['alicloud/table-bucket-encryption', 'delete-table-bucket-encryption', 'DeleteTableBucketEncryption'],
  ['alicloud/table-bucket-encryption', 'put-table-bucket-encryption-other', 'PutTableBucketEncryption'],
  ['alicloud/disk-default-kms', 'disable-disk-encryption-by-default', 'DisableDiskEncryptionByDefault'],
  ['alicloud/disk-default-kms', 'reset-disk-default-kms-key-id', 'ResetDiskDefaultKMSKeyId'],
  ['alicloud/disk-default-kms', 'modify-disk-default-kms-key-id', 'ModifyDiskDefaultKMSKeyId'],
];

describe.each(TAMPER_SAMPLES)('%s/%s', (fn, file, eventName) => {
  const parse = parsers[fn] as (typeof parsers)[string];

  it('is a tamper target with the default cap, its call id, and when it happened', () => {
    const event = sample(`${fn}/${file}`);
    const parsed = parse(event, CONFIG);
    expect(parsed).toMatchObject({
      kind: 'targets',
      targets: [
        {
          tamper: {
            event: eventName,
            maxRestoresPerHour: 3,
            callId: event.detail?.eventID ?? event.data.eventId,
          },
          observedAt: event.detail?.eventTime ?? event.data.eventTime,
        },
      ],
    });
  });

  it('is the same tamper when a trail delivers the bare record (the trail path)', () => {
    const event = sample(`${fn}/${file}`);
    if (!event.data) return expect(event.detail.eventName).toBe(eventName); // AWS has one form
    const bare = { ...event.data, recipientAccountId: event.aliyunaccountid };
    expect(parse(bare, CONFIG)).toMatchObject({
      kind: 'targets',
      targets: [{ tamper: { event: eventName, callId: event.data.eventId } }],
    });
  });

  it('takes the cap from the config', () => {
    const config = structuredClone(CONFIG) as Record<string, Record<string, Record<string, unknown>>>;
    for (const cloud of Object.values(config))
      for (const section of Object.values(cloud)) section.maxRestoresPerHour = 7;
    const parsed = parse(sample(`${fn}/${file}`), parseConfig(config));
    expect(parsed).toMatchObject({ targets: [{ tamper: { maxRestoresPerHour: 7 } }] });
  });

  it('is ignored with the reason under enforce: "create"', () => {
    const parsed = parse(sample(`${fn}/${file}`), CREATE_ONLY);
    expect(parsed).toMatchObject({ kind: 'ignored', reason: expect.stringContaining('enforce is "create"') });
  });

  it('is ignored when the call failed', () => {
    const event = sample(`${fn}/${file}`);
    if (event.detail) event.detail.errorCode = 'AccessDenied';
    else event.data.errorCode = 'Forbidden.RAM';
    expect(parse(event, CONFIG)).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('failed'),
    });
  });

  it('is routed by the CLI to its function', async () => {
    const remediator = await new Registry().route(sample(`${fn}/${file}`));
    expect(remediator?.id).toBe(fn.replace('/', '.'));
  });
});

describe('events that set the configured state (atrest own writes) end ignored without a read', () => {
  it('aws: AssociateKmsKey with the configured key', () => {
    const event = sample('aws/log-group-kms/associate-kms-key-other-key');
    event.detail.requestParameters.kmsKeyId = AWS_KEY;
    expect(logGroup.parseEvent(event, CONFIG)).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('configured state'),
      resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/orders/api',
    });
  });

  it('sls: UpdateLogStoreEncryption with enable: true (also as a string)', () => {
    for (const enable of [true, 'true']) {
      const event = sample('alicloud/logstore-encryption/update-logstore-encryption-disable');
      event.data.requestParameters.enable = enable;
      expect(logstore.parseEvent(event, CONFIG)).toMatchObject({ kind: 'ignored' });
    }
  });

  it('ack: UpdateKMSEncryption with the configured key and encryption on', () => {
    const event = sample('alicloud/cluster-kms/update-kms-encryption-other-key');
    event.data.requestParameters.kms_key_id = ACK_KEY;
    expect(cluster.parseEvent(event, CONFIG)).toMatchObject({ kind: 'ignored' });
    event.data.requestParameters.disable_encryption = true;
    expect(cluster.parseEvent(event, CONFIG)).toMatchObject({ kind: 'targets' });
  });

  it('oss tables: PutTableBucketEncryption of the configured configuration', () => {
    const event = sample('alicloud/table-bucket-encryption/put-table-bucket-encryption-other');
    event.data.requestParameters.encryptionConfiguration = { sseAlgorithm: 'AES256' };
    expect(bucket.parseEvent(event, CONFIG)).toMatchObject({ kind: 'ignored' });
  });
});

describe('how a tamper event names its resource', () => {
  it('aws: resourceIdentifier with a log group ARN, of this account and region only', () => {
    const event = sample('aws/log-group-kms/disassociate-kms-key');
    event.detail.requestParameters = {
      resourceIdentifier: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/other',
    };
    expect(logGroup.parseEvent(event, CONFIG)).toMatchObject({ targets: [{ logGroupName: '/app/other' }] });
    event.detail.requestParameters.resourceIdentifier =
      'arn:aws:logs:us-east-1:444455556666:log-group:/app/other';
    expect(logGroup.parseEvent(event, CONFIG)).toMatchObject({ kind: 'rejected', code: 'InvalidEvent' });
  });

  it('aws: Logs Insights query results are not a log group', () => {
    const event = sample('aws/log-group-kms/disassociate-kms-key');
    event.detail.requestParameters = {
      resourceIdentifier: 'arn:aws:logs:us-east-1:111122223333:query-result:*',
    };
    expect(logGroup.parseEvent(event, CONFIG)).toMatchObject({ kind: 'ignored' });
  });

  it('ack: the cluster from referencedResources ACS::ACK::Cluster when the path parameter is missing', () => {
    const event = sample('alicloud/cluster-kms/update-kms-encryption-disable');
    const id = event.data.requestParameters.ClusterId;
    delete event.data.requestParameters.ClusterId;
    event.data.referencedResources = { 'ACS::ACK::Cluster': [id] };
    expect(cluster.parseEvent(event, CONFIG)).toMatchObject({ targets: [{ clusterId: id }] });
  });

  it('oss tables: an ARN of another account is rejected', () => {
    const event = sample('alicloud/table-bucket-encryption/delete-table-bucket-encryption');
    event.data.requestParameters.tableBucketARN = 'acs:osstables:cn-hangzhou:999999999999999:bucket/x-bucket';
    expect(bucket.parseEvent(event, CONFIG)).toMatchObject({ kind: 'rejected' });
  });
});

describe('the config keys', () => {
  it('rejects a bad enforce or cap, naming the field', () => {
    expect(() => parseConfig({ aws: { logGroupKms: { kmsKeyArn: AWS_KEY, enforce: 'sometimes' } } })).toThrow(
      /aws\.logGroupKms\.enforce/,
    );
    expect(() =>
      parseConfig({ alicloud: { clusterKms: { kmsKeyId: ACK_KEY, maxRestoresPerHour: 0 } } }),
    ).toThrow(/alicloud\.clusterKms\.maxRestoresPerHour/);
  });
});

describe('every owned tamper event has a deployed trigger', () => {
  it('the Alibaba Cloud EventBridge rules carry each function’s tamper events', async () => {
    const { ALICLOUD_TRIGGERS } = await import('../../infra/alicloud/atrest-stack.ts');
    for (const [id, tampers] of [
      ['alicloud.logstore-encryption', logstoreEvents.TAMPER_EVENTS.names],
      ['alicloud.cluster-kms', clusterEvents.TAMPER_EVENTS.names],
      ['alicloud.table-bucket-encryption', bucketEvents.TAMPER_EVENTS.names],
      ['alicloud.disk-default-kms', diskEvents.TAMPER_EVENTS.names],
    ] as const)
      expect(ALICLOUD_TRIGGERS[id]?.eventNames).toEqual(expect.arrayContaining([...tampers]));
  });
});

describe('alicloud.cluster-kms: an excluded name the event does not carry', () => {
  it('is excluded once the read tells the name, before any write', () => {
    const state = {
      lifecycle: 'running',
      name: 'sandbox-1',
      clusterType: 'ManagedKubernetes',
      clusterSpec: 'ack.pro.small',
      disableEncryption: true,
    };
    expect(cluster.evaluateState(state, { kmsKeyId: ACK_KEY, exclude: ['^sandbox-'] })).toMatchObject({
      kind: 'excluded',
      reason: expect.stringContaining('sandbox-1'),
    });
    expect(cluster.evaluateState(state, { kmsKeyId: ACK_KEY })).toEqual({ kind: 'write' });
  });
});

describe('every owned tamper event has a sample in events/', () => {
  const namesIn = (dir: string): string[] =>
    readdirSync(new URL(`../../events/${dir}/`, import.meta.url))
      .filter((f) => f.endsWith('.json'))
      .map((f) => sample(`${dir}/${f.replace(/\.json$/, '')}`))
      .map((e) => e.detail?.eventName ?? e.data?.eventName)
      .filter((n): n is string => typeof n === 'string');

  it.each([
    ['aws/log-group-kms', logGroup.EVENT_NAMES.tamper],
    ['alicloud/logstore-encryption', logstoreEvents.TAMPER_EVENTS.names],
    ['alicloud/cluster-kms', clusterEvents.TAMPER_EVENTS.names],
    ['alicloud/table-bucket-encryption', bucketEvents.TAMPER_EVENTS.names],
    ['alicloud/disk-default-kms', diskEvents.TAMPER_EVENTS.names],
  ] as const)('%s', (dir, tampers) => {
    const have = namesIn(dir);
    expect(tampers.filter((name: string) => !have.includes(name))).toEqual([]);
  });
});
