/**
 * The test kit of alicloud.logstore-encryption: its emulator endpoint, seeded compliant /
 * non-compliant / not-ready state, its conflict and throttle answers, its resource names, its
 * sample events, its fuzzing hints and bench figures. The hardening suites find it through the
 * manifest (test/hardening/drivers.ts); the lifecycle is the kit's (defineDriver).
 */
import fc from 'fast-check';
import { endpointFor } from '../../../../functions/alicloud/clients.ts';
import { ActionTrailCloudEvent } from '../../../../functions/alicloud/events.ts';
import { createRemediator as createLogstoreEncryption } from '../../../../functions/alicloud/logstore-encryption/remediator.ts';
import {
  createSlsClient,
  SLS_LOGSTORE,
  SLS_PROJECT as SLS_PROJECT_NAME,
} from '../../../../functions/alicloud/sls.ts';
import { parseConfig } from '../../../../functions/config.ts';
import { startSls } from '../../../emulator/sls.ts';
import { hostileString, junk } from '../../../hardening/arbitraries.ts';
import {
  ALI_CREDENTIALS,
  aliNames,
  aliTargetProblems,
  defineDriver,
  escapeRegExp,
  NOT_READY_NA,
  nameOrHostile,
  RETRY,
  regional,
} from '../../../hardening/driver-kit.ts';

const SLS_PROJECT = 'app-logs-prod';
const SLS_ROLE = 'acs:ram::1234567890123456:role/aliyunlogdefaultrole';
const logstore = (i: number) => (i === 0 ? 'access-log' : `access-log-${i}`);

export function slsLogstoreDriver() {
  return defineDriver(
    {
      start: (o) => startSls(o),
      clear(e) {
        e.state.projects.clear();
        e.state.hosts.length = 0;
        e.state.seedProject(SLS_PROJECT);
      },
      endpointVariable: 'ALIBABA_CLOUD_ENDPOINT_SLS',
      build: (env) =>
        createLogstoreEncryption({
          credentials: ALI_CREDENTIALS,
          env,
          client: regional(createSlsClient, env),
        }),
    },
    (emulator, self) => ({
      id: 'alicloud.logstore-encryption' as const,
      floor: 'node-builtins',
      failedCode: 'LogStoreAlreadyExist',
      host: (r: string) =>
        new RegExp(`^${SLS_PROJECT_NAME.source.slice(1, -1)}\\.${escapeRegExp(r)}\\.log\\.aliyuncs\\.com$`),
      isResourceName: (r: string) => {
        const [project = '', logstore = '', ...rest] = r.split('/');
        return rest.length === 0 && SLS_PROJECT_NAME.test(project) && SLS_LOGSTORE.test(logstore);
      },
      matrix: { 'not ready': NOT_READY_NA },
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
      fuzz: {
        schema: ActionTrailCloudEvent,
        sample: 'alicloud/logstore-encryption/create-logstore.json',
        hints: {
          ...aliNames(['CreateLogStore', 'UpdateLogStoreEncryption']),
          'data.requestParameters': fc.record(
            {
              ProjectName: nameOrHostile(SLS_PROJECT_NAME),
              logstoreName: nameOrHostile(SLS_LOGSTORE),
              enable: junk(),
            },
            { requiredKeys: [] },
          ),
          'data.referencedResources': fc.record({
            'ACS::SLS::LogStore': fc.array(
              fc.oneof(fc.constant('app-logs-prod/access-log'), hostileString()),
              { maxLength: 2 },
            ),
          }),
        },
        check: (t) => [
          ...aliTargetProblems(t),
          ...(SLS_PROJECT_NAME.test(String(t.project)) && SLS_LOGSTORE.test(String(t.logstore))
            ? []
            : ['names']),
          ...(t.resource === `${t.project}/${t.logstore}` ? [] : ['resource']),
          ...(endpointFor('SLS', t.region, {}).host === `${t.region}.log.aliyuncs.com` ? [] : ['host']),
        ],
      },
      samples: {
        creation: 'alicloud/logstore-encryption/create-logstore.json',
        tamper: 'alicloud/logstore-encryption/update-logstore-encryption-disable.json',
        own: 'alicloud/logstore-encryption/update-logstore-encryption-disable.json',
        place(e, i, kind) {
          e.data.requestParameters.logstoreName = logstore(i);
          e.data.referencedResources['ACS::SLS::LogStore'] = [`${SLS_PROJECT}/${logstore(i)}`];
          // atrest's restore switches encryption back on.
          if (kind === 'own') e.data.requestParameters.enable = true;
        },
      },
      seed(i = 0) {
        emulator().state.seedLogstore(SLS_PROJECT, logstore(i));
      },
      seedCompliant(i = 0) {
        emulator().state.seedLogstore(SLS_PROJECT, logstore(i), { enable: true, encrypt_type: 'default' });
      },
      remove(i = 0) {
        emulator().state.deleteLogstore(SLS_PROJECT, logstore(i));
      },
      encrypted(i = 0) {
        const conf = emulator().state.logstore(SLS_PROJECT, logstore(i))?.encrypt_conf;
        return conf?.enable === true && conf.encrypt_type === 'default';
      },
      config: () =>
        parseConfig({ alicloud: { logstoreEncryption: { encryptType: 'default' } }, retry: RETRY }),
      arrangeKey(kind: 'disabled' | 'missing') {
        // BYOK: SLS answers a CMK it cannot use with ParameterInvalid (the exact code is UNCONFIRMED).
        self.service.failNext('UpdateLogStoreEncryption', {
          status: 400,
          code: 'ParameterInvalid',
          message: kind === 'disabled' ? 'the CMK is disabled' : 'the CMK does not exist',
          times: 99,
        });
        const userCmkInfo = { keyId: `key-${kind}`, roleArn: SLS_ROLE, regionId: 'cn-hangzhou' };
        // On the restore path the logstore already carries this CMK, switched off: re-enabling it
        // meets the same unusable key.
        const stripped = emulator().state.logstore(SLS_PROJECT, logstore(0));
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
      strip(i = 0) {
        // Only `enable` can change once set: the tamper switches it off, type and key stay.
        emulator().state.seedLogstore(SLS_PROJECT, logstore(i), { enable: false, encrypt_type: 'default' });
      },
    }),
  );
}

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = slsLogstoreDriver;
