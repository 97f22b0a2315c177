/**
 * Dead letters replay as they are: every wrapper in events/dead-letters/ unwraps to the event the
 * function was first given, and `atrest replay -` / `atrest replay <file>` processes it as if just
 * delivered, against the emulators with the real clients (signatures checked).
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unwrapDeadLetters } from '../../functions/cli/dead-letters.ts';
import { main, readStream } from '../../functions/cli/main.ts';
import { type CallerSts, startCallerSts } from '../emulator/accounts.ts';
import { type AckEmulator, startAck } from '../emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { captureIo, outcomesOf, writeConfig, writeEvents } from './helpers.ts';

const path = (p: string) => new URL(`../../events/${p}`, import.meta.url).pathname;
const text = (p: string) => readFileSync(path(p), 'utf8');
const json = (p: string) => JSON.parse(text(p)) as unknown;

const AWS_EVENT = json('aws/log-group-kms/create-log-group.json');
const ALI_EVENT = json('alicloud/cluster-kms/create-cluster.json');
const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ALI_KEY = 'key-hzz6a1b2c3d4e5f6g7h8i';
const CLUSTER = 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b';
const GROUP = '/app/orders/api';

describe('unwrapDeadLetters (pure)', () => {
  it.each([
    ['aws-lambda-on-failure.json', AWS_EVENT, 'aws-lambda-on-failure.json requestPayload'],
    ['aws-sqs-receive-message.json', AWS_EVENT, 'x Messages[0] Body requestPayload'],
    ['aws-eventbridge-dlq-message.json', AWS_EVENT, 'x Messages[0] Body'],
    ['alicloud-fc-on-failure.json', ALI_EVENT, 'x requestPayload event'],
    ['alicloud-fc-requeue.json', ALI_EVENT, 'x event'],
  ])('%s unwraps to the original event', (file, event, via) => {
    const source = via.startsWith('x') ? 'x' : file;

    const items = unwrapDeadLetters(json(`dead-letters/${file}`), source);

    expect(items).toEqual([{ source: via.replace(/^x/, source), event }]);
  });

  it('leaves a plain event, and each element of an array of events, as it is', () => {
    expect(unwrapDeadLetters(AWS_EVENT, 'e')).toEqual([{ source: 'e', event: AWS_EVENT }]);
    expect(unwrapDeadLetters([AWS_EVENT, ALI_EVENT], 'a')).toEqual([
      { source: 'a[0]', event: AWS_EVENT },
      { source: 'a[1]', event: ALI_EVENT },
    ]);
  });

  it('takes an MNS body that arrives Base64-encoded', () => {
    const body = Buffer.from(JSON.stringify(ALI_EVENT)).toString('base64');

    expect(unwrapDeadLetters({ MessageId: 'm1', Body: body }, 'm')).toEqual([
      { source: 'm Body', event: ALI_EVENT },
    ]);
  });

  it('reports a body that is not JSON, and a record without payload, as problems (never a silent drop)', () => {
    const items = [
      ...unwrapDeadLetters({ Messages: [{ MessageId: 'm1', Body: '<html>gateway</html>' }] }, 'q'),
      ...unwrapDeadLetters({ requestContext: {}, requestPayload: null, responseContext: {} }, 'r'),
    ];

    expect(items).toEqual([
      { source: 'q Messages[0] Body', problem: expect.stringMatching(/^q Messages\[0\] Body: not JSON/) },
      { source: 'r requestPayload', problem: 'r requestPayload: the record carries no request payload' },
    ]);
  });

  it('an empty receive-message answer holds no event', () => {
    expect(unwrapDeadLetters({ Messages: [] }, 'q')).toEqual([]);
  });

  it('stops at a bounded depth on a self-similar wrapper', () => {
    let value: unknown = AWS_EVENT;
    for (let i = 0; i < 8; i += 1) value = { MessageId: `m${i}`, Body: JSON.stringify(value) };

    const [item] = unwrapDeadLetters(value, 'deep');

    expect(item?.problem).toMatch(/nested deeper than/);
  });
});

describe('unwrapDeadLetters never throws', () => {
  it('on any JSON value, and every item is an event or a problem', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        const inputs = [
          a,
          { Messages: [{ MessageId: 'm', Body: JSON.stringify(b) }] },
          { requestContext: {}, requestPayload: a, responseContext: b },
        ];
        for (const input of inputs)
          for (const item of unwrapDeadLetters(input, 's'))
            expect('event' in item || typeof item.problem === 'string').toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('readStream', () => {
  it('refuses standard input past its size cap instead of buffering without bound', async () => {
    await expect(readStream(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000)).rejects.toThrow(
      /larger than 1000 bytes/,
    );
    await expect(readStream(Readable.from(['{"a":', '1}']), 1000)).resolves.toBe('{"a":1}');
  });
});

describe('atrest replay of dead letters, against the emulators', () => {
  let logs: EmulatedService;
  let logsState: CloudWatchLogsState;
  let ack: AckEmulator;
  // The CLI asks STS GetCallerIdentity for its own account (once per run and cloud).
  let sts: CallerSts;
  let env: Record<string, string | undefined>;
  let saved: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ({ service: logs, state: logsState } = await startCloudWatchLogs());
    logsState.seedKey(AWS_KEY);
    ack = await startAck({ updatingReads: 1 });
    sts = await startCallerSts();
    // The AWS SDK reads its endpoint and credentials from the process environment only.
    saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
      AWS_ENDPOINT_URL_STS: sts.env.AWS_ENDPOINT_URL_STS,
    });
    env = {
      AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
      ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
      ALIBABA_CLOUD_ENDPOINT_CS: ack.url,
      ALIBABA_CLOUD_ENDPOINT_STS: sts.env.ALIBABA_CLOUD_ENDPOINT_STS,
      ATREST_CONFIG: writeConfig({
        aws: { logGroupKms: { kmsKeyArn: AWS_KEY } },
        alicloud: { clusterKms: { kmsKeyId: ALI_KEY } },
      }),
    };
  });
  afterAll(async () => {
    process.env = saved;
    await logs.stop();
    await ack.stop();
    await sts.stop();
  });
  beforeEach(() => {
    logsState.seedLogGroup(GROUP);
    ack.clusters.seed({ clusterId: CLUSTER });
  });

  it("the function's own on-failure record, piped from `aws sqs receive-message`, is applied, not rejected", async () => {
    const io = { ...captureIo(env), stdin: async () => text('dead-letters/aws-sqs-receive-message.json') };

    const code = await main(['replay', '-'], io);

    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        function: 'aws.log-group-kms',
        outcome: 'applied',
        resource: expect.stringContaining(GROUP),
      }),
    ]);
    expect(code).toBe(0);
    expect(logsState.logGroup(GROUP)?.kmsKeyId).toBe(AWS_KEY);
  });

  it.each([
    ['aws-lambda-on-failure.json', 'aws.log-group-kms'],
    ['aws-eventbridge-dlq-message.json', 'aws.log-group-kms'],
    ['alicloud-fc-on-failure.json', 'alicloud.cluster-kms'],
    ['alicloud-fc-requeue.json', 'alicloud.cluster-kms'],
  ])('%s is processed as if just delivered: applied', async (file, fn) => {
    const io = captureIo(env);

    const code = await main(['replay', path(`dead-letters/${file}`)], io);

    expect(outcomesOf(io)).toEqual([expect.objectContaining({ function: fn, outcome: 'applied' })]);
    expect(code).toBe(0);
  });

  it('a dead letter whose body is not JSON is one rejected line naming where, exit 1', async () => {
    const file = writeEvents('dlq.json', { Messages: [{ MessageId: 'm1', Body: 'oops' }] });
    const io = captureIo(env);

    const code = await main(['replay', file], io);

    expect(outcomesOf(io)).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        error: expect.objectContaining({
          code: 'InvalidEvent',
          message: expect.stringContaining('Messages[0] Body: not JSON'),
        }),
      }),
    ]);
    expect(code).toBe(1);
  });

  it('one dead letter per line (saved MNS bodies) replays each, named by line', async () => {
    const lines = [
      text('dead-letters/alicloud-fc-on-failure.json'),
      text('dead-letters/aws-lambda-on-failure.json'),
    ]
      .map((t) => JSON.stringify(JSON.parse(t)))
      .join('\n');
    const io = { ...captureIo(env), stdin: async () => `${lines}\n` };

    const code = await main(['replay', '-', '--dry-run'], io);

    expect(outcomesOf(io).map((o) => o.function)).toEqual(['alicloud.cluster-kms', 'aws.log-group-kms']);
    expect(io.stderr.join('\n')).toContain('stdin:2 requestPayload');
    expect(code).toBe(0);
  });

  it('an empty queue on standard input processes nothing and exits 0', async () => {
    const io = { ...captureIo(env), stdin: async () => '' };

    expect(await main(['replay', '-'], io)).toBe(0);
    expect(io.stdout).toEqual([]);
  });
});
