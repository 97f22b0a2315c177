/**
 * The test kit of alicloud.logstore-encryption: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events. The
 * hardening suites find it through the manifest (test/hardening/drivers.ts).
 */
import type { IncomingMessage } from 'node:http';
import { createRemediator as createLogstoreEncryption } from '../../../../functions/alicloud/logstore-encryption/remediator.ts';
import {
  createSlsClient,
  SLS_LOGSTORE,
  SLS_PROJECT as SLS_PROJECT_NAME,
} from '../../../../functions/alicloud/sls.ts';
import { parseConfig } from '../../../../functions/config.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
import { type SlsEmulator, startSls } from '../../../emulator/sls.ts';
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
// alicloud.logstore-encryption — SLS
// ------------------------------------------------------------------------------------------------

const SLS_PROJECT = 'app-logs-prod';
const SLS_ROLE = 'acs:ram::1234567890123456:role/aliyunlogdefaultrole';

export function slsLogstoreDriver(): Driver & { emulator: SlsEmulator } {
  const logstore = (i: number) => (i === 0 ? 'access-log' : `access-log-${i}`);
  let main: AnyRemediator | undefined;
  const driver = {
    id: 'alicloud.logstore-encryption' as const,
    host: (r: string) =>
      new RegExp(`^${SLS_PROJECT_NAME.source.slice(1, -1)}\\.${escapeRegExp(r)}\\.log\\.aliyuncs\\.com$`),
    isResourceName: (r: string) => {
      const [project = '', logstore = '', ...rest] = r.split('/');
      return rest.length === 0 && SLS_PROJECT_NAME.test(project) && SLS_LOGSTORE.test(logstore);
    },
    matrix: { 'not ready': NOT_READY_NA },
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

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = slsLogstoreDriver;
