/**
 * `atrest replay --remote` end to end: main() → the real Lambda client / the FC 3.0 ACS3 client /
 * @alicloud/fc2 → the emulated invoke endpoints (signatures checked) → the real handlers, which
 * call the emulated CloudWatch Logs and ECS. The outcome lines printed are the function's own.
 */
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handlerOptions } from '../../functions/alicloud/disk-default-kms/handler.ts';
import { createFcHandler } from '../../functions/alicloud/fc.ts';
import { main } from '../../functions/cli/main.ts';
import {
  asOutcomes,
  defaultFunctionName,
  eventPlacement,
  outcomesFromAnswer,
  outcomesInMessage,
} from '../../functions/cli/remote.ts';
import { MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import type { Outcome } from '../../functions/core/outcome.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import { type EcsEmulator, startEcs } from '../emulator/ecs.ts';
import { type FcSyncEmulator, startFcSync } from '../emulator/fc-sync.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { type LambdaState, startLambda } from '../emulator/lambda.ts';
import { captureIo, outcomesOf, writeEvents } from './helpers.ts';

const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const DISK_KEY = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const sample = (path: string): string => new URL(`../../events/${path}`, import.meta.url).pathname;
const fast = { sleep: async () => {}, random: () => 0.5 };

let logs: EmulatedService;
let logsState: CloudWatchLogsState;
let lambda: EmulatedService;
let lambdaState: LambdaState;
let ecs: EcsEmulator;
let fc: FcSyncEmulator;
let createHandler: typeof import('../../functions/aws/log-group-kms/handler.ts')['createHandler'];

/** A freshly deployed function each test: its idempotency memory starts empty. */
const deployLambda = () =>
  lambdaState.seedFunction(
    'atrest-log-group-kms',
    createHandler({
      env: { ATREST_CONFIG_JSON: JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: AWS_KEY } } }) },
      logger: new Logger({ serviceName: 'atrest', logLevel: 'SILENT' }),
      engine: fast,
    }),
  );

const deployFc = () =>
  fc.state.seedFunction(
    'atrest-disk-default-kms',
    createFcHandler(
      handlerOptions({
        env: {
          ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
          ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
          ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
          ATREST_CONFIG_JSON: JSON.stringify({ alicloud: { diskDefaultKms: { kmsKeyId: DISK_KEY } } }),
        },
        store: new MemoryIdempotencyStore(),
        engine: fast,
        log: () => {},
      }),
    ),
    { service: 'atrest' },
  );

beforeAll(async () => {
  ({ service: logs, state: logsState } = await startCloudWatchLogs());
  ({ service: lambda, state: lambdaState } = await startLambda());
  ecs = await startEcs();
  fc = await startFcSync({ region: 'cn-hangzhou', account: '1234567890123456' });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    // handler.ts builds its default handler at import, from the process environment.
    ATREST_CONFIG_JSON: JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: AWS_KEY } } }),
  });
  ({ createHandler } = await import('../../functions/aws/log-group-kms/handler.ts'));
});
afterAll(async () => {
  await Promise.all([logs.stop(), lambda.stop(), ecs.stop(), fc.stop()]);
});

const aliEnv = () => ({
  ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
  ALIBABA_CLOUD_ENDPOINT_FC: fc.url,
});

describe('replay --remote: AWS Lambda', () => {
  beforeEach(() => {
    logsState.seedKey(AWS_KEY).seedLogGroup('/app/orders/api');
    lambdaState.invocations.length = 0;
    deployLambda();
  });

  it('invokes atrest-log-group-kms in the event region and prints its outcome line', async () => {
    const io = captureIo(process.env);

    const code = await main(['replay', '--remote', sample('aws/log-group-kms/create-log-group.json')], io);

    expect(code).toBe(0);
    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        function: 'aws.log-group-kms',
        outcome: 'applied',
        resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/orders/api',
        eventId: '6f1c2a8e-3b7d-4f0a-9c51-2d8e7b4a1f90',
      }),
    ]);
    expect(lambdaState.invocations).toEqual([
      expect.objectContaining({ functionName: 'atrest-log-group-kms', invocationType: 'RequestResponse' }),
    ]);
    expect(logsState.logGroup('/app/orders/api')?.kmsKeyId).toBe(AWS_KEY);
    // Only the contract's fields: the handler's EMF keys stay in its log line.
    expect(Object.keys(outcomesOf(io)[0] ?? {})).not.toContain('_aws');
  });

  it('prints the failed outcome carried by the function error, and exits 1', async () => {
    logsState.seedKey(AWS_KEY, { enabled: false });
    const io = captureIo(process.env);

    const code = await main(['replay', '--remote', sample('aws/log-group-kms/create-log-group.json')], io);

    expect(code).toBe(1);
    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/app/orders/api',
        error: expect.objectContaining({ code: 'InvalidParameterException' }),
      }),
    ]);
    expect(lambdaState.invocations[0]?.error).toBe(true);
  });

  it('reports a function that does not exist as a failed line with Lambda’s code', async () => {
    const io = captureIo(process.env);

    const code = await main(
      ['replay', '--remote', '--function-name', 'nope', sample('aws/log-group-kms/create-log-group.json')],
      io,
    );

    expect(code).toBe(1);
    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        function: 'aws.log-group-kms',
        outcome: 'failed',
        region: 'us-east-1',
        error: expect.objectContaining({ code: 'ResourceNotFoundException' }),
      }),
    ]);
  });
});

describe('replay --remote: Function Compute', () => {
  beforeEach(() => {
    ecs.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'previous-key' });
    ecs.state.seedKey('cn-hangzhou', DISK_KEY);
    fc.state.invocations.length = 0;
    deployFc();
  });

  it('invokes the FC 3.0 function synchronously and prints its outcome line', async () => {
    const io = captureIo(aliEnv());

    const code = await main(
      ['replay', '--remote', sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json')],
      io,
    );

    expect(code).toBe(0);
    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        function: 'alicloud.disk-default-kms',
        outcome: 'applied',
        resource: 'acs:ecs:cn-hangzhou:1234567890123456:disk-default-encryption',
      }),
    ]);
    expect(fc.state.invocations).toEqual([
      expect.objectContaining({
        api: '2023-03-30',
        functionName: 'atrest-disk-default-kms',
        invocationType: 'Sync',
      }),
    ]);
    expect(ecs.state.region('cn-hangzhou').kmsKeyId).toBe(DISK_KEY);
  });

  it('prints the failed outcome inside an UnhandledInvocationError, and exits 1', async () => {
    ecs.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'previous-key' });
    const io = captureIo(aliEnv());
    const event = JSON.parse(
      readFileSync(sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json'), 'utf8'),
    );
    event.id = 'evt-unknown-key';
    event.aliyunregionid = 'cn-shanghai';
    event.data.acsRegion = 'cn-shanghai';
    ecs.state.seedRegion('cn-shanghai', { encrypted: true, kmsKeyId: 'previous-key' });

    const code = await main(['replay', '--remote', writeEvents('shanghai.json', event)], io);

    expect(code).toBe(1);
    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        region: 'cn-shanghai',
        error: expect.objectContaining({ code: 'InvalidOperation.KMSKeyIdNotFound' }),
      }),
    ]);
    expect(fc.state.invocations[0]?.error).toBe(true);
  });

  it('reaches a function in an FC 2.0 service through @alicloud/fc2 with --fc2-service', async () => {
    const io = captureIo(aliEnv());

    const code = await main(
      [
        'replay',
        '--remote',
        '--fc2-service',
        'atrest',
        sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json'),
      ],
      io,
    );

    expect(code).toBe(0);
    expect(outcomesOf(io)).toEqual([expect.objectContaining({ outcome: 'applied' })]);
    expect(fc.state.invocations).toEqual([
      expect.objectContaining({
        api: '2016-08-15',
        service: 'atrest',
        functionName: 'atrest-disk-default-kms',
      }),
    ]);
  });

  it('reports an unknown FC function as a failed line with FC’s code', async () => {
    const io = captureIo(aliEnv());

    const code = await main(
      [
        'replay',
        '--remote',
        '--function-name',
        'missing',
        sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json'),
      ],
      io,
    );

    expect(code).toBe(1);
    expect(outcomesOf(io)[0]).toMatchObject({ outcome: 'failed', error: { code: 'FunctionNotFound' } });
  });
});

describe('replay --remote: usage', () => {
  it.each([
    [['--dry-run'], /--dry-run and --force run in this process/],
    [['--region', 'mars'], /"mars" is not a region/],
  ])('%j is a usage error before anything is invoked', async (flags, message) => {
    lambdaState.invocations.length = 0;
    const io = captureIo(process.env);

    const code = await main(
      ['replay', '--remote', ...flags, sample('aws/log-group-kms/create-log-group.json')],
      io,
    );

    expect(code).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(message);
    expect(lambdaState.invocations).toHaveLength(0);
  });

  it('refuses the remote-only flags without --remote', async () => {
    const io = captureIo(process.env);

    const code = await main(
      ['replay', '--function-name', 'x', sample('aws/log-group-kms/create-log-group.json')],
      io,
    );

    expect(code).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/--function-name only with --remote/);
  });

  it('needs the account for Function Compute when the event has none and no endpoint override is set', async () => {
    const event = JSON.parse(
      readFileSync(sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json'), 'utf8'),
    );
    delete event.aliyunaccountid;
    delete event.data.userIdentity;
    const io = captureIo({ ...aliEnv(), ALIBABA_CLOUD_ENDPOINT_FC: '' });

    const code = await main(['replay', '--remote', writeEvents('no-account.json', event)], io);

    expect(code).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/pass --account/);
  });
});

describe('remote answers → outcome lines (pure)', () => {
  const line: Outcome = {
    function: 'aws.log-group-kms',
    eventId: 'e1',
    resource: 'arn:aws:logs:us-east-1:111122223333:log-group:/a',
    region: 'us-east-1',
    account: '111122223333',
    outcome: 'failed',
    attempts: 1,
    durationMs: 12,
    dryRun: false,
    error: { code: 'AccessDeniedException', message: 'no', requestId: 'r1' },
  };
  const plan = { id: 'aws.log-group-kms' as const, eventId: 'e1', region: 'us-east-1' };

  it('finds the outcomes at the end of both handlers’ error messages', () => {
    expect(outcomesInMessage(`atrest: 1 outcome(s) not settled: ${JSON.stringify([line])}`)).toEqual([line]);
    expect(
      outcomesInMessage(`atrest aws.log-group-kms: 1 of 1 outcome(s) failed: [x] ${JSON.stringify([line])}`),
    ).toEqual([line]);
    expect(outcomesInMessage('Runtime.ImportModuleError: Cannot find module [index]')).toBeUndefined();
  });

  it('keeps only the contract’s fields and refuses anything that is not an outcome', () => {
    expect(asOutcomes([{ ...line, _aws: {}, requestId: 'x' }])).toEqual([line]);
    expect(asOutcomes([{ ...line, outcome: 'maybe' }])).toBeUndefined();
    expect(asOutcomes([])).toBeUndefined();
    expect(asOutcomes({ outcomes: [line] })).toBeUndefined();
  });

  it('turns an answer without outcomes into one failed line naming the error type', () => {
    const [fromError] = outcomesFromAnswer(
      plan,
      JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: 'exited' }),
      'Unhandled',
      'req-9',
    );
    const [fromJunk] = outcomesFromAnswer(plan, 'null', undefined);

    expect(fromError).toMatchObject({
      outcome: 'failed',
      error: { code: 'Runtime.ExitError', requestId: 'req-9' },
    });
    expect(fromJunk).toMatchObject({ outcome: 'failed', error: { code: 'InvalidFunctionResult' } });
  });

  it('places events by their own envelope fields', () => {
    expect(
      eventPlacement({
        id: 'a',
        region: 'eu-west-1',
        account: '111122223333',
        detail: { awsRegion: 'us-east-1' },
      }),
    ).toEqual({
      eventId: 'a',
      region: 'us-east-1',
      account: '111122223333',
    });
    expect(
      eventPlacement({
        id: 'b',
        aliyunregionid: 'cn-beijing',
        aliyunaccountid: '1234567890123456',
        data: {},
      }),
    ).toEqual({ eventId: 'b', region: 'cn-beijing', account: '1234567890123456' });
    expect(eventPlacement('nope')).toEqual({});
  });

  it('names deployed functions atrest-<name>', () => {
    expect(defaultFunctionName('aws.log-group-kms')).toBe('atrest-log-group-kms');
    expect(defaultFunctionName('alicloud.table-bucket-encryption')).toBe('atrest-table-bucket-encryption');
  });
});
