/**
 * The test kit of aws.log-group-kms: its emulator endpoint, seeded compliant / non-compliant /
 * not-ready state, its conflict and throttle answers, its resource names, its sample events. The
 * hardening suites find it through the manifest (test/hardening/drivers.ts).
 */
import type { IncomingMessage } from 'node:http';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { vi } from 'vitest';
import { logsClient } from '../../../../functions/aws/clients.ts';
import {
  createRemediator as createLogGroupKms,
  LOG_GROUP_NAME,
} from '../../../../functions/aws/log-group-kms/remediator.ts';
import { parseConfig } from '../../../../functions/config.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../../../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../../../emulator/harness.ts';
import {
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
    // The SDK's own partitions: amazonaws.com, .com.cn for China, the ISO and EU sovereign suffixes.
    host: (r: string) =>
      new RegExp(
        `^logs\\.${escapeRegExp(r)}\\.(amazonaws\\.com(\\.cn)?|amazonaws\\.eu|c2s\\.ic\\.gov|sc2s\\.sgov\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)$`,
      ),
    isResourceName: (r: string) => LOG_GROUP_NAME.test(r),
    matrix: { 'not ready': NOT_READY_NA },
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

/** The driver the hardening suites find through the manifest (test/hardening/drivers.ts). */
export const driver = awsLogGroupDriver;
