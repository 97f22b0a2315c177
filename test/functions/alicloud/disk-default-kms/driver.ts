/**
 * The test kit of alicloud.disk-default-kms: its emulator endpoint, seeded compliant /
 * non-compliant / not-ready state, its conflict and throttle answers, its resource names, its
 * sample events, its fuzzing hints and bench figures. The hardening suites find it through the
 * manifest (test/hardening/drivers.ts); the lifecycle is the kit's (defineDriver).
 */
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { ALICLOUD_REGION } from '#core/validation';
import { endpointFor } from '../../../../functions/alicloud/clients.ts';
import {
  createRemediator as createDiskDefaultKms,
  EVENT_NAMES,
  resourceOf,
  TimerEvent,
} from '../../../../functions/alicloud/disk-default-kms/remediator.ts';
import { ActionTrailCloudEvent } from '../../../../functions/alicloud/events.ts';
import { parseConfig } from '../../../../functions/config.ts';
import { startEcs } from '../../../emulator/ecs.ts';
import { inputsFor, junk } from '../../../hardening/arbitraries.ts';
import {
  ACCOUNT,
  ALI_CREDENTIALS,
  aliApi,
  aliNames,
  aliTargetProblems,
  type Driver,
  defineDriver,
  escapeRegExp,
  NOT_READY_NA,
  RETRY,
  sample,
} from '../../../hardening/driver-kit.ts';
import type { CallKind } from '../../../hardening/lag-proxy.ts';

export const ECS_KEY = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const ECS_MISSING_KEY = 'ffffffff-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
/** Resource `i` of this function is a region's account-level setting. */
export const ecsRegion = (i: number): string => (i === 0 ? 'cn-hangzhou' : `cn-hardening-${i}`);

export function ecsDiskDefaultDriver() {
  return defineDriver(
    {
      start: (o) => startEcs(o),
      clear(e) {
        for (let i = 0; i <= 32; i++) e.state.seedRegion(ecsRegion(i), { encrypted: false });
      },
      endpointVariable: 'ALIBABA_CLOUD_ENDPOINT_ECS',
      build: (env) =>
        createDiskDefaultKms({ credentials: ALI_CREDENTIALS, env, api: aliApi(env), account: ACCOUNT }),
    },
    (emulator, self) => ({
      id: 'alicloud.disk-default-kms' as const,
      floor: 'alicloud-openapi',
      failedCode: 'Forbidden.RAM',
      host: (r: string) => new RegExp(`^ecs\\.${escapeRegExp(r)}\\.aliyuncs\\.com$`),
      isResourceName: (r: string) => ALICLOUD_REGION.test(r),
      // An account-level setting is never "gone": not-found answers are failures an operator must see.
      matrix: {
        'not ready': NOT_READY_NA,
        'not found before the read': {
          outcome: 'failed',
          code: 'InvalidRegionId.NotFound',
          record: 'released',
        },
        'not found between read and write': {
          outcome: 'failed',
          code: 'InvalidDefaultEncryption.NotFound',
          record: 'released',
        },
      } satisfies Driver['matrix'],
      readAction: 'DescribeDiskDefaultKMSKeyId',
      writeAction: 'ModifyDiskDefaultKMSKeyId',
      callsPerRead: 2,
      // The status comes first; the key only when default encryption is on.
      firstReadAction: 'DescribeDiskEncryptionByDefaultStatus',
      faults: {
        // ECS documents no conflict code for the account-default APIs: HTTP 409 assumed (UNCONFIRMED).
        conflict: { status: 409, code: 'OperationConflict' },
        throttle: { status: 400, code: 'Throttling.User' },
        serverError: { status: 503, code: 'ServiceUnavailable' },
        // Default encryption switched off between our read and our write (documented code; status assumed).
        goneOnWrite: { status: 403, code: 'InvalidDefaultEncryption.NotFound' },
        denied: { status: 403, code: 'Forbidden.RAM' },
      },
      fuzz: {
        schema: ActionTrailCloudEvent,
        sample: 'alicloud/disk-default-kms/modify-disk-default-kms-key-id.json',
        hints: {
          ...aliNames(EVENT_NAMES),
          'data.requestParameters': fc.record({ RegionId: junk(), KMSKeyId: junk() }, { requiredKeys: [] }),
        },
        // It also parses the FC timer's events.
        more: () => inputsFor(TimerEvent(), sample('alicloud/disk-default-kms/timer.json')),
        check: (t) => [
          ...aliTargetProblems(t),
          ...(t.resource === resourceOf(t.region, t.account) ? [] : ['resource']),
          ...(endpointFor('ECS', t.region, {}).host === `ecs.${t.region}.aliyuncs.com` ? [] : ['host']),
        ],
      },
      samples: {
        creation: 'alicloud/disk-default-kms/enable-disk-encryption-by-default.json',
        tamper: 'alicloud/disk-default-kms/reset-disk-default-kms-key-id.json',
        own: 'alicloud/disk-default-kms/modify-disk-default-kms-key-id.json',
        // Resource `i` is a region: the event happens there.
        place(e, i, kind) {
          e.aliyunregionid = ecsRegion(i);
          e.data.acsRegion = ecsRegion(i);
          if (e.data.requestParameters) e.data.requestParameters.RegionId = ecsRegion(i);
          if (kind === 'own') e.data.requestParameters.KMSKeyId = ECS_KEY;
        },
      },
      seed(i = 0) {
        const region = ecsRegion(i);
        const state = emulator().state;
        state.seedRegion(region, { encrypted: true, kmsKeyId: state.serviceKeyId(region) });
        state.seedKey(region, ECS_KEY);
      },
      seedCompliant(i = 0) {
        const region = ecsRegion(i);
        emulator().state.seedKey(region, ECS_KEY);
        emulator().state.seedRegion(region, { encrypted: true, kmsKeyId: ECS_KEY });
      },
      remove() {
        // The setting always exists; a region ECS does not know is the nearest "not found" (status assumed).
        self.service.failNext('DescribeDiskEncryptionByDefaultStatus', {
          status: 404,
          code: 'InvalidRegionId.NotFound',
          times: 1,
        });
      },
      encrypted(i = 0) {
        const region = emulator().state.region(ecsRegion(i));
        return region.encrypted && region.kmsKeyId === ECS_KEY;
      },
      config: () => parseConfig({ alicloud: { diskDefaultKms: { kmsKeyId: ECS_KEY } }, retry: RETRY }),
      arrangeKey(kind: 'disabled' | 'missing') {
        // Both answers are the emulator's model of the documented ModifyDiskDefaultKMSKeyId errors.
        if (kind === 'disabled') {
          emulator().state.seedKey(ecsRegion(0), ECS_KEY, { enabled: false });
          return { config: self.config(), code: 'InvalidParameter.KMSKeyId.CMKNotEnabled' };
        }
        return {
          config: parseConfig({ alicloud: { diskDefaultKms: { kmsKeyId: ECS_MISSING_KEY } }, retry: RETRY }),
          code: 'InvalidOperation.KMSKeyIdNotFound',
        };
      },
      kindOf(req: IncomingMessage): CallKind {
        const action = String(req.headers['x-acs-action'] ?? '');
        if (action.startsWith('Describe')) return 'read';
        return action.startsWith('Modify') || action.startsWith('Enable') ? 'write' : undefined;
      },
      strip(i = 0) {
        // ResetDiskDefaultKMSKeyId: default encryption stays on, with the service key.
        self.seed(i);
      },
    }),
  );
}

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = ecsDiskDefaultDriver;
