/**
 * One small driver per function for the hardening suites: start its emulator, seed a resource,
 * build the real remediator with real clients (short request timeouts, so a hung connection
 * becomes a retry in milliseconds), and deliver a sample event through `remediateEvent`.
 *
 * Every client reaches its emulator through the endpoint variables of CONTRACT.md section 4 only.
 * Each driver names its service's own answers for the fault matrix (conflict, throttling, 5xx,
 * not found, permission denied, key problems); codes the vendor does not document are marked.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { vi } from 'vitest';
import { type Config, parseConfig } from '#core/config';
import { remediateEvent } from '#core/engine';
import type { IdempotencyStore } from '#core/idempotency';
import type { FunctionId, Outcome } from '#core/outcome';
import type { Remediator } from '#core/remediator';
import { MemoryRestoreCounter, type RestoreCounter } from '#core/restores';
import { createRemediator as createClusterKms } from '../../functions/alicloud/cluster-kms/remediator.ts';
import { createRemediator as createDiskDefaultKms } from '../../functions/alicloud/disk-default-kms/remediator.ts';
import { createRemediator as createLogstoreEncryption } from '../../functions/alicloud/logstore-encryption/remediator.ts';
import { createAlicloudApi } from '../../functions/alicloud/openapi.ts';
import { createOssTablesClient } from '../../functions/alicloud/oss-tables.ts';
import { createSlsClient } from '../../functions/alicloud/sls.ts';
import { createRemediator as createTableBucketEncryption } from '../../functions/alicloud/table-bucket-encryption/remediator.ts';
import { logsClient } from '../../functions/aws/clients.ts';
import { createRemediator as createLogGroupKms } from '../../functions/aws/log-group-kms/remediator.ts';
import { type AckEmulator, startAck } from '../emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { type EcsEmulator, startEcs } from '../emulator/ecs.ts';
import type { EmulatedService, Fault } from '../emulator/harness.ts';
import { type OssTablesEmulator, startOssTables } from '../emulator/oss-tables.ts';
import { type SlsEmulator, startSls } from '../emulator/sls.ts';
import type { CallKind } from './lag-proxy.ts';

/** Total tries of one call in every matrix config: "beyond the retry budget" is deterministic. */
export const MAX_ATTEMPTS = 4;
/** Request timeout of every client the drivers build: a `hang` fault costs this much, once. */
export const TIMEOUT_MS = 200;

export const RETRY = { maxAttempts: MAX_ATTEMPTS, baseMs: 1, capMs: 1 } as const;

// biome-ignore lint/suspicious/noExplicitAny: each function brings its own Target/Desired/State types.
export type AnyRemediator = Remediator<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON edited field by field.
export type EventJson = Record<string, any>;

/** A service answer used as an injected fault (`times` is set by the cell). */
export type Answer = Omit<Fault, 'times'>;

export interface Faults {
  conflict: Answer;
  throttle: Answer;
  serverError: Answer;
  /** The resource disappeared between the read and the write. */
  goneOnWrite: Answer;
  denied: Answer;
}

export interface DeliverOptions {
  store: IdempotencyStore;
  config?: Config;
  remediator?: AnyRemediator;
  /** Which resource (0 = the sample's own). */
  index?: number;
  /** Envelope id of this delivery; default derived from the index. */
  eventId?: string;
  /** Deliver the function's tamper event instead of its creation event (the restore path). */
  tamper?: boolean;
  /** Default: a fresh counter per delivery (the cap has its own tests). */
  restores?: RestoreCounter;
}

export interface Driver {
  readonly id: FunctionId;
  service: EmulatedService;
  url: string;
  readonly readAction: string;
  readonly writeAction: string;
  /** API calls one logical read makes (ECS's default key: the status, then the key). */
  readonly callsPerRead: number;
  readonly faults: Faults;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Empty state, no faults, empty call log. */
  reset(): void;
  /** Resource `index` exists without the configured encryption. */
  seed(index?: number): void;
  /** Resource `index` does not exist when it is read (or, where it always exists, its read says not found). */
  remove(index?: number): void;
  /** Resource `index` exists but cannot take the change yet; undefined when the API has no such state. */
  notReady?: (index?: number) => void;
  /** Whether resource `index` holds the configured encryption now (the emulator's truth). */
  encrypted(index?: number): boolean;
  /** The config every cell uses (retry budget included). */
  config(): Config;
  /** Makes the configured key disabled or missing; returns the config to use and the code the service answers. */
  arrangeKey(kind: 'disabled' | 'missing'): { config: Config; code: string };
  /** The real remediator with short-timeout clients against `endpoint` (default: the emulator). */
  remediator(endpoint?: string): AnyRemediator;
  /** The sample event for resource `index`. */
  event(index?: number, eventId?: string): EventJson;
  /** What a request is, for the lag proxy. */
  kindOf(req: IncomingMessage): CallKind;
  /** Endpoint variables for this function's clients (also used by the platform handlers). */
  env(endpoint?: string): Record<string, string>;
  /** Points the process-wide endpoint variables back at the emulator (AWS reads them from process.env). */
  restoreEndpoint(): void;

  // The restore path (tamper events, CONTRACT section 6)
  /** The function's main tamper event for resource `index` (its sample in events/). */
  tamperEvent(index?: number, eventId?: string): EventJson;
  /** The event atrest's own restore write of resource `index` produces. */
  ownWriteEvent(index?: number, eventId?: string): EventJson;
  /** Resource `index` as the tamper event leaves it: the encryption removed or weakened. */
  strip(index?: number): void;
}

const sample = (path: string): EventJson =>
  JSON.parse(readFileSync(new URL(`../../events/${path}`, import.meta.url), 'utf8'));

export async function deliver(driver: Driver, options: DeliverOptions): Promise<Outcome> {
  const index = options.index ?? 0;
  const [outcome] = await remediateEvent(
    options.remediator ?? driver.remediator(),
    options.tamper ? driver.tamperEvent(index, options.eventId) : driver.event(index, options.eventId),
    {
      config: options.config ?? driver.config(),
      store: options.store,
      restores: options.restores ?? new MemoryRestoreCounter(),
      sleep: async () => {},
      random: () => 0.5,
    },
  );
  if (!outcome) throw new Error(`${driver.id}: no outcome`);
  return outcome;
}

const ALI_CREDENTIALS = () => EMULATOR_CREDENTIALS;
const eventIdFor = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;

// ------------------------------------------------------------------------------------------------
// aws.log-group-kms — CloudWatch Logs
// ------------------------------------------------------------------------------------------------

export const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const AWS_DISABLED_KEY = 'arn:aws:kms:us-east-1:111122223333:key/dddddddd-12ab-34cd-56ef-1234567890ab';
const AWS_MISSING_KEY = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';

/** logsClient() caches one client per (region, timeouts) for the process: each driver needs its own. */
let awsDrivers = 0;

export function awsLogGroupDriver(): Driver & { state: CloudWatchLogsState } {
  const name = (i: number) => `/hardening/group-${i}`;
  const ownTimeout = TIMEOUT_MS + awsDrivers++;
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'aws.log-group-kms' as const,
    service: undefined as unknown as EmulatedService,
    state: undefined as unknown as CloudWatchLogsState,
    url: '',
    readAction: 'DescribeLogGroups',
    writeAction: 'AssociateKmsKey',
    callsPerRead: 1,
    faults: {
      conflict: { status: 400, code: 'OperationAbortedException' },
      throttle: { status: 400, code: 'ThrottlingException' },
      serverError: { status: 500, code: 'InternalFailure' },
      goneOnWrite: { status: 400, code: 'ResourceNotFoundException' },
      denied: { status: 400, code: 'AccessDeniedException' },
    },
    async start() {
      ({ service: driver.service, state: driver.state } = await startCloudWatchLogs());
      driver.url = driver.service.url;
      vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
      vi.stubEnv('AWS_REGION', 'us-east-1');
      vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', driver.url);
    },
    async stop() {
      await driver.service.stop();
    },
    reset() {
      for (const n of driver.state.names()) driver.state.delete(n);
      driver.state.seedKey(AWS_KEY).seedKey(AWS_DISABLED_KEY, { enabled: false });
      driver.service.clearFaults();
      driver.service.resetLog();
      vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', driver.url);
    },
    seed(i = 0) {
      driver.state.seedLogGroup(name(i));
    },
    remove(i = 0) {
      driver.state.delete(name(i));
    },
    encrypted(i = 0) {
      return driver.state.logGroup(name(i))?.kmsKeyId === AWS_KEY;
    },
    config: () => parseConfig({ aws: { logGroupKms: { kmsKeyArn: AWS_KEY } }, retry: RETRY }),
    arrangeKey(kind: 'disabled' | 'missing') {
      const key = kind === 'disabled' ? AWS_DISABLED_KEY : AWS_MISSING_KEY;
      return {
        config: parseConfig({ aws: { logGroupKms: { kmsKeyArn: key } }, retry: RETRY }),
        code: 'InvalidParameterException',
      };
    },
    remediator(endpoint?: string) {
      if (endpoint === undefined && main) return main;
      // The SDK resolves AWS_ENDPOINT_URL_CLOUDWATCH_LOGS at a client's first request and keeps it.
      vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', endpoint ?? driver.url);
      if (endpoint !== undefined) {
        // A proxied remediator: a fresh client of its own, first used while the variable names the proxy.
        const client = new CloudWatchLogsClient({
          region: 'us-east-1',
          maxAttempts: 1,
          requestHandler: { requestTimeout: TIMEOUT_MS, throwOnRequestTimeout: true },
        });
        return createLogGroupKms({ client: () => client });
      }
      // The production client factory with short timeouts (its cache is per process: one entry per driver).
      main = createLogGroupKms({
        client: (region) =>
          logsClient(region, { requestTimeoutMs: ownTimeout, connectionTimeoutMs: ownTimeout }),
      });
      return main;
    },
    event(i = 0, eventId?: string) {
      const e = sample('aws/log-group-kms/create-log-group.json');
      e.id = eventId ?? eventIdFor(i);
      e.detail.requestParameters.logGroupName = name(i);
      return e;
    },
    kindOf(req: IncomingMessage): CallKind {
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target.endsWith('.AssociateKmsKey')) return 'write';
      return target.endsWith('.DescribeLogGroups') ? 'read' : undefined;
    },
    restoreEndpoint() {
      vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', driver.url);
    },
    env: (endpoint?: string): Record<string, string> => ({
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: endpoint ?? driver.url,
    }),
    tamperEvent(i = 0, eventId?: string) {
      const e = sample('aws/log-group-kms/disassociate-kms-key.json');
      e.id = eventId ?? eventIdFor(i);
      e.detail.eventID = `tamper-${e.id}`;
      e.detail.requestParameters.logGroupName = name(i);
      return e;
    },
    ownWriteEvent(i = 0, eventId?: string) {
      const e = sample('aws/log-group-kms/associate-kms-key-other-key.json');
      e.id = eventId ?? eventIdFor(i);
      e.detail.eventID = `own-${e.id}`;
      e.detail.requestParameters = { logGroupName: name(i), kmsKeyId: AWS_KEY };
      return e;
    },
    strip(i = 0) {
      driver.state.seedLogGroup(name(i));
    },
  };
  return driver;
}

// ------------------------------------------------------------------------------------------------
// alicloud.logstore-encryption — SLS
// ------------------------------------------------------------------------------------------------

const SLS_PROJECT = 'app-logs-prod';
const SLS_ROLE = 'acs:ram::1234567890123456:role/aliyunlogdefaultrole';

export function slsLogstoreDriver(): Driver & { emulator: SlsEmulator } {
  const logstore = (i: number) => (i === 0 ? 'access-log' : `access-log-${i}`);
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'alicloud.logstore-encryption' as const,
    emulator: undefined as unknown as SlsEmulator,
    service: undefined as unknown as EmulatedService,
    url: '',
    readAction: 'GetLogStore',
    writeAction: 'UpdateLogStoreEncryption',
    callsPerRead: 1,
    faults: {
      // SLS documents no conflict code for this API: HTTP 409 is the assumption (UNCONFIRMED).
      conflict: { status: 409, code: 'OperationConflict' },
      // SLS uses ExceedQuota for rates and for hard count quotas; the message tells which.
      throttle: { status: 403, code: 'ExceedQuota', message: 'Project operation qps exceed' },
      serverError: { status: 500, code: 'InternalServerError' },
      goneOnWrite: { status: 404, code: 'LogStoreNotExist' },
      denied: { status: 401, code: 'Unauthorized' },
    },
    async start() {
      driver.emulator = await startSls();
      driver.service = driver.emulator.service;
      driver.url = driver.emulator.url;
    },
    async stop() {
      await driver.emulator.stop();
    },
    reset() {
      driver.emulator.state.projects.clear();
      driver.emulator.state.hosts.length = 0;
      driver.emulator.state.seedProject(SLS_PROJECT);
      driver.service.clearFaults();
      driver.service.resetLog();
    },
    seed(i = 0) {
      driver.emulator.state.seedLogstore(SLS_PROJECT, logstore(i));
    },
    remove(i = 0) {
      driver.emulator.state.deleteLogstore(SLS_PROJECT, logstore(i));
    },
    encrypted(i = 0) {
      const conf = driver.emulator.state.logstore(SLS_PROJECT, logstore(i))?.encrypt_conf;
      return conf?.enable === true && conf.encrypt_type === 'default';
    },
    config: () => parseConfig({ alicloud: { logstoreEncryption: { encryptType: 'default' } }, retry: RETRY }),
    arrangeKey(kind: 'disabled' | 'missing') {
      // BYOK: SLS answers a CMK it cannot use with ParameterInvalid (the exact code is UNCONFIRMED).
      driver.service.failNext('UpdateLogStoreEncryption', {
        status: 400,
        code: 'ParameterInvalid',
        message: kind === 'disabled' ? 'the CMK is disabled' : 'the CMK does not exist',
        times: 99,
      });
      const userCmkInfo = { keyId: `key-${kind}`, roleArn: SLS_ROLE, regionId: 'cn-hangzhou' };
      // On the restore path the logstore already carries this CMK, switched off: re-enabling it
      // meets the same unusable key.
      const stripped = driver.emulator.state.logstore(SLS_PROJECT, logstore(0));
      if (stripped?.encrypt_conf?.enable === false)
        stripped.encrypt_conf = {
          enable: false,
          encrypt_type: 'aes_gcm',
          user_cmk_info: { cmk_key_id: userCmkInfo.keyId, arn: SLS_ROLE, region_id: 'cn-hangzhou' },
        };
      return {
        config: parseConfig({
          alicloud: { logstoreEncryption: { encryptType: 'aes_gcm', userCmkInfo } },
          retry: RETRY,
        }),
        code: 'ParameterInvalid',
      };
    },
    remediator(endpoint?: string) {
      if (endpoint === undefined && main) return main;
      const env = driver.env(endpoint);
      const remediator = createLogstoreEncryption({
        credentials: ALI_CREDENTIALS,
        env,
        client: (region) =>
          createSlsClient({ region, credentials: ALI_CREDENTIALS, env, timeoutMs: TIMEOUT_MS }),
      });
      if (endpoint === undefined) main = remediator;
      return remediator;
    },
    event(i = 0, eventId?: string) {
      const e = sample('alicloud/logstore-encryption/create-logstore.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.requestParameters.logstoreName = logstore(i);
      e.data.referencedResources['ACS::SLS::LogStore'] = [`${SLS_PROJECT}/${logstore(i)}`];
      return e;
    },
    kindOf(req: IncomingMessage): CallKind {
      if (req.method === 'PUT') return 'write';
      return req.method === 'GET' ? 'read' : undefined;
    },
    restoreEndpoint() {},
    env: (endpoint?: string): Record<string, string> => ({
      ALIBABA_CLOUD_ENDPOINT_SLS: endpoint ?? driver.url,
    }),
    tamperEvent(i = 0, eventId?: string) {
      const e = sample('alicloud/logstore-encryption/update-logstore-encryption-disable.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.eventId = `tamper-${e.id}`;
      e.data.requestParameters.logstoreName = logstore(i);
      e.data.referencedResources['ACS::SLS::LogStore'] = [`${SLS_PROJECT}/${logstore(i)}`];
      return e;
    },
    ownWriteEvent(i = 0, eventId?: string) {
      const e = driver.tamperEvent(i, eventId);
      e.data.eventId = `own-${e.id}`;
      e.data.requestParameters.enable = true;
      return e;
    },
    strip(i = 0) {
      // Only `enable` can change once set: the tamper switches it off, type and key stay.
      driver.emulator.state.seedLogstore(SLS_PROJECT, logstore(i), {
        enable: false,
        encrypt_type: 'default',
      });
    },
  };
  return driver;
}

// ------------------------------------------------------------------------------------------------
// alicloud.cluster-kms — ACK
// ------------------------------------------------------------------------------------------------

export const ACK_KEY = 'key-hzz6a1b2c3d4e5f6g7h8i';
export const clusterId = (i: number): string =>
  `c3f1e8a6b2c4d4e5f9a0b1c2d3e4f${i.toString(16).padStart(4, '0')}`;

export function ackClusterDriver(): Driver & { emulator: AckEmulator } {
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'alicloud.cluster-kms' as const,
    emulator: undefined as unknown as AckEmulator,
    service: undefined as unknown as EmulatedService,
    url: '',
    readAction: 'DescribeClusterDetail',
    writeAction: 'UpdateKMSEncryption',
    callsPerRead: 1,
    faults: {
      // ACK answers HTTP 409 inside its 5-minute window or while busy (code UNCONFIRMED).
      conflict: { status: 409, code: 'OperationConflict' },
      throttle: { status: 429, code: 'Throttling.User' },
      serverError: { status: 503, code: 'ServiceUnavailable' },
      goneOnWrite: { status: 404, code: 'ErrorClusterNotFound' },
      denied: { status: 403, code: 'ForbiddenUpdateKMSState' },
    },
    async start() {
      // conflictWindowMs 0: only injected faults conflict, so retries and follow-ups are not 409s.
      driver.emulator = await startAck({ updatingReads: 1, conflictWindowMs: 0 });
      driver.service = driver.emulator.service;
      driver.url = driver.emulator.url;
    },
    async stop() {
      await driver.emulator.stop();
    },
    reset() {
      for (const c of driver.emulator.clusters.all()) driver.emulator.clusters.delete(c.clusterId);
      driver.service.clearFaults();
      driver.service.resetLog();
    },
    seed(i = 0) {
      driver.emulator.clusters.seed({ clusterId: clusterId(i) });
    },
    remove(i = 0) {
      driver.emulator.clusters.delete(clusterId(i));
    },
    notReady(i = 0) {
      driver.emulator.clusters.seed({ clusterId: clusterId(i), state: 'initial' });
    },
    encrypted(i = 0) {
      const c = driver.emulator.clusters.get(clusterId(i));
      return c?.kmsKeyId === ACK_KEY && c.disableEncryption === false;
    },
    config: () => parseConfig({ alicloud: { clusterKms: { kmsKeyId: ACK_KEY } }, retry: RETRY }),
    arrangeKey(kind: 'disabled' | 'missing') {
      // ACK documents no key error codes for UpdateKMSEncryption: a 400 InvalidParameter.* is the assumption.
      const code = kind === 'disabled' ? 'InvalidParameter.KmsKeyDisabled' : 'InvalidParameter.KmsKeyId';
      driver.service.failNext('UpdateKMSEncryption', { status: 400, code, times: 99 });
      return { config: driver.config(), code };
    },
    remediator(endpoint?: string) {
      if (endpoint === undefined && main) return main;
      const env = driver.env(endpoint);
      const api = createAlicloudApi({
        credentials: ALI_CREDENTIALS,
        env,
        readTimeoutMs: TIMEOUT_MS,
        connectTimeoutMs: TIMEOUT_MS,
      });
      const remediator = createClusterKms({ credentials: ALI_CREDENTIALS, env, api });
      if (endpoint === undefined) main = remediator;
      return remediator;
    },
    event(i = 0, eventId?: string) {
      const e = sample('alicloud/cluster-kms/create-cluster.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.responseElements.cluster_id = clusterId(i);
      e.data.referencedResources['ACS::CS::Cluster'] = [clusterId(i)];
      return e;
    },
    kindOf(req: IncomingMessage): CallKind {
      if (req.method === 'PUT') return 'write';
      return req.method === 'GET' ? 'read' : undefined;
    },
    restoreEndpoint() {},
    env: (endpoint?: string): Record<string, string> => ({
      ALIBABA_CLOUD_ENDPOINT_CS: endpoint ?? driver.url,
    }),
    tamperEvent(i = 0, eventId?: string) {
      const e = sample('alicloud/cluster-kms/update-kms-encryption-disable.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.eventId = `tamper-${e.id}`;
      e.data.requestParameters.ClusterId = clusterId(i);
      e.data.referencedResources['ACS::CS::Cluster'] = [clusterId(i)];
      return e;
    },
    ownWriteEvent(i = 0, eventId?: string) {
      const e = driver.tamperEvent(i, eventId);
      e.data.eventId = `own-${e.id}`;
      e.data.requestParameters.disable_encryption = false;
      e.data.requestParameters.kms_key_id = ACK_KEY;
      return e;
    },
    strip(i = 0) {
      driver.emulator.clusters.seed({ clusterId: clusterId(i), kmsKeyId: ACK_KEY, disableEncryption: true });
    },
  };
  return driver;
}

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

// ------------------------------------------------------------------------------------------------
// alicloud.disk-default-kms — ECS
// ------------------------------------------------------------------------------------------------

export const ECS_KEY = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const ECS_MISSING_KEY = 'ffffffff-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
/** Resource `i` of this function is a region's account-level setting. */
export const ecsRegion = (i: number): string => (i === 0 ? 'cn-hangzhou' : `cn-hardening-${i}`);

export function ecsDiskDefaultDriver(): Driver & { emulator: EcsEmulator } {
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'alicloud.disk-default-kms' as const,
    emulator: undefined as unknown as EcsEmulator,
    service: undefined as unknown as EmulatedService,
    url: '',
    readAction: 'DescribeDiskDefaultKMSKeyId',
    writeAction: 'ModifyDiskDefaultKMSKeyId',
    callsPerRead: 2,
    faults: {
      // ECS documents no conflict code for the account-default APIs: HTTP 409 assumed (UNCONFIRMED).
      conflict: { status: 409, code: 'OperationConflict' },
      throttle: { status: 400, code: 'Throttling.User' },
      serverError: { status: 503, code: 'ServiceUnavailable' },
      // Default encryption switched off between our read and our write (documented code; status assumed).
      goneOnWrite: { status: 403, code: 'InvalidDefaultEncryption.NotFound' },
      denied: { status: 403, code: 'Forbidden.RAM' },
    },
    async start() {
      driver.emulator = await startEcs();
      driver.service = driver.emulator.service;
      driver.url = driver.emulator.url;
    },
    async stop() {
      await driver.emulator.stop();
    },
    reset() {
      driver.service.clearFaults();
      driver.service.resetLog();
      for (let i = 0; i <= 32; i++) driver.emulator.state.seedRegion(ecsRegion(i), { encrypted: false });
    },
    seed(i = 0) {
      const region = ecsRegion(i);
      const state = driver.emulator.state;
      state.seedRegion(region, { encrypted: true, kmsKeyId: state.serviceKeyId(region) });
      state.seedKey(region, ECS_KEY);
    },
    remove() {
      // The setting always exists; a region ECS does not know is the nearest "not found" (status assumed).
      driver.service.failNext('DescribeDiskEncryptionByDefaultStatus', {
        status: 404,
        code: 'InvalidRegionId.NotFound',
        times: 1,
      });
    },
    encrypted(i = 0) {
      const region = driver.emulator.state.region(ecsRegion(i));
      return region.encrypted && region.kmsKeyId === ECS_KEY;
    },
    config: () => parseConfig({ alicloud: { diskDefaultKms: { kmsKeyId: ECS_KEY } }, retry: RETRY }),
    arrangeKey(kind: 'disabled' | 'missing') {
      // Both answers are the emulator's model of the documented ModifyDiskDefaultKMSKeyId errors.
      if (kind === 'disabled') {
        driver.emulator.state.seedKey(ecsRegion(0), ECS_KEY, { enabled: false });
        return { config: driver.config(), code: 'InvalidParameter.KMSKeyId.CMKNotEnabled' };
      }
      return {
        config: parseConfig({ alicloud: { diskDefaultKms: { kmsKeyId: ECS_MISSING_KEY } }, retry: RETRY }),
        code: 'InvalidOperation.KMSKeyIdNotFound',
      };
    },
    remediator(endpoint?: string) {
      if (endpoint === undefined && main) return main;
      const env = driver.env(endpoint);
      const api = createAlicloudApi({
        credentials: ALI_CREDENTIALS,
        env,
        readTimeoutMs: TIMEOUT_MS,
        connectTimeoutMs: TIMEOUT_MS,
      });
      const remediator = createDiskDefaultKms({
        credentials: ALI_CREDENTIALS,
        env,
        api,
        account: '1234567890123456',
      });
      if (endpoint === undefined) main = remediator;
      return remediator;
    },
    event(i = 0, eventId?: string) {
      const e = sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json');
      e.id = eventId ?? eventIdFor(i);
      e.aliyunregionid = ecsRegion(i);
      e.data.acsRegion = ecsRegion(i);
      if (e.data.requestParameters) e.data.requestParameters.RegionId = ecsRegion(i);
      return e;
    },
    kindOf(req: IncomingMessage): CallKind {
      const action = String(req.headers['x-acs-action'] ?? '');
      if (action.startsWith('Describe')) return 'read';
      return action.startsWith('Modify') || action.startsWith('Enable') ? 'write' : undefined;
    },
    restoreEndpoint() {},
    env: (endpoint?: string): Record<string, string> => ({
      ALIBABA_CLOUD_ENDPOINT_ECS: endpoint ?? driver.url,
    }),
    tamperEvent(i = 0, eventId?: string) {
      const e = sample('alicloud/disk-default-kms/reset-disk-default-kms-key-id.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.eventId = `tamper-${e.id}`;
      e.aliyunregionid = ecsRegion(i);
      e.data.acsRegion = ecsRegion(i);
      e.data.requestParameters.RegionId = ecsRegion(i);
      return e;
    },
    ownWriteEvent(i = 0, eventId?: string) {
      const e = sample('alicloud/disk-default-kms/modify-disk-default-kms-key-id.json');
      e.id = eventId ?? eventIdFor(i);
      e.data.eventId = `own-${e.id}`;
      e.aliyunregionid = ecsRegion(i);
      e.data.acsRegion = ecsRegion(i);
      e.data.requestParameters.RegionId = ecsRegion(i);
      e.data.requestParameters.KMSKeyId = ECS_KEY;
      return e;
    },
    strip(i = 0) {
      // ResetDiskDefaultKMSKeyId: default encryption stays on, with the service key.
      driver.seed(i);
    },
  };
  return driver;
}

/** All five, in CONTRACT.md order. */
export function allDrivers(): Driver[] {
  return [
    awsLogGroupDriver(),
    slsLogstoreDriver(),
    ackClusterDriver(),
    ossTableBucketDriver(),
    ecsDiskDefaultDriver(),
  ];
}
