/**
 * The test kit of alicloud.disk-default-kms: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events. The
 * hardening suites find it through the manifest (test/hardening/drivers.ts).
 */
import type { IncomingMessage } from 'node:http';
import { ALICLOUD_REGION } from '#core/validation';
import { createRemediator as createDiskDefaultKms } from '../../../../functions/alicloud/disk-default-kms/remediator.ts';
import { createAlicloudApi } from '../../../../functions/alicloud/openapi.ts';
import { parseConfig } from '../../../../functions/config.ts';
import { type EcsEmulator, startEcs } from '../../../emulator/ecs.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
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

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = ecsDiskDefaultDriver;
