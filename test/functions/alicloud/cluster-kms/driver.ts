/**
 * The test kit of alicloud.cluster-kms: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events, its
 * fuzzing hints and bench figures. The hardening suites find it through the manifest
 * (test/hardening/drivers.ts); the lifecycle is the kit's (defineDriver).
 */
import fc from 'fast-check';
import { endpointFor } from '../../../../functions/alicloud/clients.ts';
import {
  CLUSTER_ID,
  createRemediator as createClusterKms,
} from '../../../../functions/alicloud/cluster-kms/remediator.ts';
import { ActionTrailCloudEvent } from '../../../../functions/alicloud/events.ts';
import { parseConfig } from '../../../../functions/config.ts';
import { startAck } from '../../../emulator/ack.ts';
import { junk } from '../../../hardening/arbitraries.ts';
import {
  ACCOUNT,
  ALI_CREDENTIALS,
  aliApi,
  aliNames,
  aliTargetProblems,
  type Driver,
  defineDriver,
  escapeRegExp,
  type MatrixExpect,
  nameOrHostile,
  RETRY,
} from '../../../hardening/driver-kit.ts';

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

export function ackClusterDriver() {
  return defineDriver(
    {
      // conflictWindowMs 0: only injected faults conflict, so retries and follow-ups are not 409s.
      start: (o) => startAck({ updatingReads: 1, conflictWindowMs: 0, ...o }),
      clear(e) {
        for (const c of e.clusters.all()) e.clusters.delete(c.clusterId);
      },
      endpointVariable: 'ALIBABA_CLOUD_ENDPOINT_CS',
      build: (env) =>
        createClusterKms({ credentials: ALI_CREDENTIALS, env, api: aliApi(env), account: ACCOUNT }),
    },
    (emulator, self) => ({
      id: 'alicloud.cluster-kms' as const,
      floor: 'alicloud-openapi',
      failedCode: 'ErrorQueryVpc',
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
      fuzz: {
        schema: ActionTrailCloudEvent,
        sample: 'alicloud/cluster-kms/create-cluster.json',
        hints: {
          ...aliNames(['CreateCluster', 'UpdateKMSEncryption']),
          'data.responseElements': fc.record({ cluster_id: nameOrHostile(CLUSTER_ID) }, { requiredKeys: [] }),
          'data.requestParameters': fc.record(
            {
              name: junk(),
              ClusterId: nameOrHostile(CLUSTER_ID),
              disable_encryption: junk(),
              kms_key_id: junk(),
            },
            { requiredKeys: [] },
          ),
        },
        check: (t) => [
          ...aliTargetProblems(t),
          ...(CLUSTER_ID.test(String(t.clusterId)) && t.resource === t.clusterId ? [] : ['cluster id']),
          ...(endpointFor('CS', t.region, {}).host === `cs.${t.region}.aliyuncs.com` ? [] : ['host']),
        ],
      },
      samples: {
        creation: 'alicloud/cluster-kms/create-cluster.json',
        tamper: 'alicloud/cluster-kms/update-kms-encryption-disable.json',
        own: 'alicloud/cluster-kms/update-kms-encryption-disable.json',
        place(e, i, kind) {
          e.data.referencedResources['ACS::CS::Cluster'] = [clusterId(i)];
          if (kind === 'creation') e.data.responseElements.cluster_id = clusterId(i);
          else e.data.requestParameters.ClusterId = clusterId(i);
          // atrest's restore: encryption on, with the configured key.
          if (kind === 'own')
            Object.assign(e.data.requestParameters, { disable_encryption: false, kms_key_id: ACK_KEY });
        },
      },
      seed(i = 0) {
        emulator().clusters.seed({ clusterId: clusterId(i) });
      },
      seedCompliant(i = 0) {
        emulator().clusters.seed({ clusterId: clusterId(i), kmsKeyId: ACK_KEY, disableEncryption: false });
      },
      remove(i = 0) {
        emulator().clusters.delete(clusterId(i));
      },
      notReady(i = 0) {
        emulator().clusters.seed({ clusterId: clusterId(i), state: 'initial' });
      },
      encrypted(i = 0) {
        const c = emulator().clusters.get(clusterId(i));
        return c?.kmsKeyId === ACK_KEY && c.disableEncryption === false;
      },
      config: () => parseConfig({ alicloud: { clusterKms: { kmsKeyId: ACK_KEY } }, retry: RETRY }),
      arrangeKey(kind: 'disabled' | 'missing') {
        // ACK documents no key error codes for UpdateKMSEncryption: a 400 InvalidParameter.* is the assumption.
        const code = kind === 'disabled' ? 'InvalidParameter.KmsKeyDisabled' : 'InvalidParameter.KmsKeyId';
        self.service.failNext('UpdateKMSEncryption', { status: 400, code, times: 99 });
        return { config: self.config(), code };
      },
      strip(i = 0) {
        emulator().clusters.seed({ clusterId: clusterId(i), kmsKeyId: ACK_KEY, disableEncryption: true });
      },
    }),
  );
}

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = ackClusterDriver;
