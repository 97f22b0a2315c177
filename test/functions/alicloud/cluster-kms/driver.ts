/**
 * The test kit of alicloud.cluster-kms: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events. The
 * hardening suites find it through the manifest (test/hardening/drivers.ts).
 */
import type { IncomingMessage } from 'node:http';
import {
  CLUSTER_ID,
  createRemediator as createClusterKms,
} from '../../../../functions/alicloud/cluster-kms/remediator.ts';
import { createAlicloudApi } from '../../../../functions/alicloud/openapi.ts';
import { parseConfig } from '../../../../functions/config.ts';
import { type AckEmulator, startAck } from '../../../emulator/ack.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
import {
  ALI_CREDENTIALS,
  type AnyRemediator,
  type Driver,
  escapeRegExp,
  eventIdFor,
  type MatrixExpect,
  RETRY,
  sample,
  TIMEOUT_MS,
} from '../../../hardening/driver-kit.ts';
import type { CallKind } from '../../../hardening/lag-proxy.ts';

// ------------------------------------------------------------------------------------------------
// alicloud.cluster-kms — ACK
// ------------------------------------------------------------------------------------------------

/** The fault matrix's answer where ACK's conflict means "later": deferred, the record released. */
const DEFERRED_BY_CONFLICT: Partial<MatrixExpect> = {
  outcome: 'deferred',
  attempts: 1,
  writeCalls: 1,
  okWrites: 0,
  encrypted: false,
  record: 'released',
  code: undefined,
  exhausted: undefined,
  readCalls: 1,
};

export const ACK_KEY = 'key-hzz6a1b2c3d4e5f6g7h8i';
export const clusterId = (i: number): string =>
  `c3f1e8a6b2c4d4e5f9a0b1c2d3e4f${i.toString(16).padStart(4, '0')}`;

export function ackClusterDriver(): Driver & { emulator: AckEmulator } {
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'alicloud.cluster-kms' as const,
    host: (r: string) => new RegExp(`^cs\\.${escapeRegExp(r)}\\.aliyuncs\\.com$`),
    isResourceName: (r: string) => CLUSTER_ID.test(r),
    // ACK's 409 means "inside the 5-minute window or busy": later, not never — deferred and re-queued by fc.ts.
    matrix: {
      'conflict x1': DEFERRED_BY_CONFLICT,
      'conflict x2': DEFERRED_BY_CONFLICT,
      'conflict beyond the budget': DEFERRED_BY_CONFLICT,
      // The landed write moved the cluster to `updating`: the repeat is a 409, so the event is
      // deferred and the re-queued delivery finds the key in place (the fault matrix's follow-up).
      'the write lands but its answer is lost': {
        outcome: 'deferred',
        attempts: 2,
        writeCalls: 2,
        okWrites: 1,
        encrypted: true,
        record: 'released',
      },
    } satisfies Driver['matrix'],
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

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = ackClusterDriver;
