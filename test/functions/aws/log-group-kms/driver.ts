/**
 * The test kit of aws.log-group-kms: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events, its
 * fuzzing hints and bench figures. The hardening suites find it through the manifest
 * (test/hardening/drivers.ts); the lifecycle is the kit's (defineDriver).
 */
import type { IncomingMessage } from 'node:http';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import fc from 'fast-check';
import { AWS_ACCOUNT, AWS_REGION } from '#core/validation';
import { logsClient } from '../../../../functions/aws/clients.ts';
import {
  createRemediator as createLogGroupKms,
  DETAIL_TYPE,
  EventBridgeEnvelope,
  LOG_GROUP_NAME,
  logGroupArn,
  SOURCE,
} from '../../../../functions/aws/log-group-kms/remediator.ts';
import { parseConfig } from '../../../../functions/config.ts';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from '../../../emulator/cloudwatch-logs.ts';
import { hostileString, junk } from '../../../hardening/arbitraries.ts';
import {
  defineDriver,
  escapeRegExp,
  NOT_READY_NA,
  nameOrHostile,
  RETRY,
  setEnv,
  TIMEOUT_MS,
} from '../../../hardening/driver-kit.ts';
import type { CallKind } from '../../../hardening/lag-proxy.ts';

export const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const AWS_DISABLED_KEY = 'arn:aws:kms:us-east-1:111122223333:key/dddddddd-12ab-34cd-56ef-1234567890ab';
const AWS_MISSING_KEY = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';
const ENDPOINT = 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS';

/** logsClient() caches one client per (region, timeouts) for the process: each driver needs its own. */
let awsDrivers = 0;

const name = (i: number) => `/hardening/group-${i}`;

export function awsLogGroupDriver() {
  const ownTimeout = TIMEOUT_MS + awsDrivers++;
  return defineDriver(
    {
      async start(o) {
        const credentials = (o.credentials ?? []).map((c) => ({
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.accessKeySecret,
        }));
        const { service, state } = await startCloudWatchLogs(credentials.length > 0 ? { credentials } : {});
        const [signer = DUMMY_CREDENTIALS] = credentials;
        setEnv('AWS_ACCESS_KEY_ID', signer.accessKeyId);
        setEnv('AWS_SECRET_ACCESS_KEY', signer.secretAccessKey);
        setEnv('AWS_REGION', 'us-east-1');
        setEnv(ENDPOINT, service.url);
        return { service, state, url: service.url, stop: () => service.stop() };
      },
      clear(e) {
        for (const n of e.state.names()) e.state.delete(n);
        e.state.seedKey(AWS_KEY).seedKey(AWS_DISABLED_KEY, { enabled: false });
        setEnv(ENDPOINT, e.url);
      },
      endpointVariable: ENDPOINT,
      build(env, proxied) {
        // The SDK resolves the endpoint variable at a client's first request and keeps it.
        setEnv(ENDPOINT, env[ENDPOINT] ?? '');
        if (proxied) {
          // A proxied remediator: a fresh client of its own, first used while the variable names the proxy.
          const client = new CloudWatchLogsClient({
            region: 'us-east-1',
            maxAttempts: 1,
            requestHandler: { requestTimeout: TIMEOUT_MS, throwOnRequestTimeout: true },
          });
          return createLogGroupKms({ client: () => client });
        }
        // The production client factory with short timeouts (its cache is per process: one entry per driver).
        return createLogGroupKms({
          client: (region) =>
            logsClient(region, { requestTimeoutMs: ownTimeout, connectionTimeoutMs: ownTimeout }),
        });
      },
    },
    (emulator, self) => ({
      id: 'aws.log-group-kms' as const,
      floor: 'aws-logs-dynamodb',
      failedCode: 'ResourceAlreadyExistsException',
      // The SDK's own partitions: amazonaws.com, .com.cn for China, the ISO and EU sovereign suffixes.
      host: (r: string) =>
        new RegExp(
          `^logs\\.${escapeRegExp(r)}\\.(amazonaws\\.com(\\.cn)?|amazonaws\\.eu|c2s\\.ic\\.gov|sc2s\\.sgov\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)$`,
        ),
      isResourceName: (r: string) => LOG_GROUP_NAME.test(r),
      matrix: { 'not ready': NOT_READY_NA },
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
      fuzz: {
        schema: EventBridgeEnvelope,
        sample: 'aws/log-group-kms/create-log-group.json',
        hints: {
          source: fc.constant(SOURCE),
          'detail-type': fc.constant(DETAIL_TYPE),
          'detail.eventSource': fc.constant('logs.amazonaws.com'),
          // The creation and the tamper events (CONTRACT section 6).
          'detail.eventName': fc.constantFrom('CreateLogGroup', 'DisassociateKmsKey', 'AssociateKmsKey'),
          'detail.errorCode': fc.constant(null),
          'detail.requestParameters': fc.record(
            {
              logGroupName: nameOrHostile(LOG_GROUP_NAME),
              kmsKeyId: junk(),
              resourceIdentifier: fc.oneof(
                nameOrHostile(LOG_GROUP_NAME).map(
                  (n) => `arn:aws:logs:us-east-1:111122223333:log-group:${n}`,
                ),
                hostileString(),
              ),
            },
            { requiredKeys: [] },
          ),
        },
        check: (t) => [
          ...(AWS_REGION.test(t.region) ? [] : [`region ${t.region}`]),
          ...(AWS_ACCOUNT.test(t.account) ? [] : [`account ${t.account}`]),
          ...(LOG_GROUP_NAME.test(String(t.logGroupName)) ? [] : [`name ${t.logGroupName}`]),
          ...(t.resource === logGroupArn(t.region, t.account, String(t.logGroupName)) ? [] : ['resource']),
        ],
      },
      samples: {
        creation: 'aws/log-group-kms/create-log-group.json',
        tamper: 'aws/log-group-kms/disassociate-kms-key.json',
        own: 'aws/log-group-kms/associate-kms-key-other-key.json',
        place(e, i, kind) {
          if (kind === 'own') e.detail.requestParameters = { logGroupName: name(i), kmsKeyId: AWS_KEY };
          else e.detail.requestParameters.logGroupName = name(i);
        },
      },
      // The production factory: endpoints come from the process environment (the AWS SDK's way).
      make: () => createLogGroupKms(),
      seed(i = 0) {
        emulator().state.seedLogGroup(name(i));
      },
      seedCompliant(i = 0) {
        emulator().state.seedLogGroup(name(i), AWS_KEY);
      },
      remove(i = 0) {
        emulator().state.delete(name(i));
      },
      encrypted(i = 0) {
        return emulator().state.logGroup(name(i))?.kmsKeyId === AWS_KEY;
      },
      config: () => parseConfig({ aws: { logGroupKms: { kmsKeyArn: AWS_KEY } }, retry: RETRY }),
      arrangeKey(kind: 'disabled' | 'missing') {
        const key = kind === 'disabled' ? AWS_DISABLED_KEY : AWS_MISSING_KEY;
        return {
          config: parseConfig({ aws: { logGroupKms: { kmsKeyArn: key } }, retry: RETRY }),
          code: 'InvalidParameterException',
        };
      },
      kindOf(req: IncomingMessage): CallKind {
        const target = String(req.headers['x-amz-target'] ?? '');
        if (target.endsWith('.AssociateKmsKey')) return 'write';
        return target.endsWith('.DescribeLogGroups') ? 'read' : undefined;
      },
      restoreEndpoint() {
        setEnv(ENDPOINT, self.url);
      },
      strip(i = 0) {
        emulator().state.seedLogGroup(name(i));
      },
    }),
  );
}

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = awsLogGroupDriver;
