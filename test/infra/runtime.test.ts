/**
 * The deployed bundles, run for real: each is loaded in a fresh process of every Node runtime we
 * ship on and handles a sample event against the emulator. `npm test` checks the runtime it runs
 * on (Node 20 here); `npm run test:runtimes` (run by CI) fetches Node 22 — Lambda's runtime — from
 * the npm registry and checks it too (ATREST_NODE22).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction } from '../../infra/bundle.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from '../emulator/cloudwatch-logs.ts';
import { startSls } from '../emulator/sls.ts';

const run = promisify(execFile);
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CONFIG = {
  aws: { logGroupKms: { kmsKeyArn: KEY } },
  alicloud: { logstoreEncryption: { encryptType: 'default' } },
};
const sample = (path: string) => readFileSync(join(import.meta.dirname, '../../events', path), 'utf8');

const runtimes = [
  { name: `this runtime (${process.version})`, bin: process.execPath },
  ...(process.env.ATREST_NODE22
    ? [{ name: 'Node 22 (Lambda nodejs22.x)', bin: process.env.ATREST_NODE22 }]
    : []),
];

let out: string;
let awsBundle: string;
let slsBundle: string;
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'atrest-runtime-'));
  awsBundle = (await bundleFunction('aws.log-group-kms', { outdir: out })).file;
  slsBundle = (await bundleFunction('alicloud.logstore-encryption', { outdir: out })).file;
});

describe.each(runtimes)('deployed bundles on $name', ({ bin }) => {
  const logs = startCloudWatchLogs();
  const sls = startSls();
  afterAll(async () => {
    await (await logs).service.stop();
    await (await sls).stop();
  });

  it('reports the runtime version asked for', async () => {
    const { stdout } = await run(bin, ['--version']);
    expect(stdout.trim()).toMatch(bin === process.execPath ? process.version : /^v22\./);
  });

  it('aws.log-group-kms (ESM) applies the key through the emulator, with nothing on stderr', async () => {
    const { service, state } = await logs;
    state.seedKey(KEY, { enabled: true, allowsLogs: true }).seedLogGroup('/app/orders/api');
    const script = `
      const { handler } = await import(${JSON.stringify(pathToFileURL(awsBundle).href)});
      const event = JSON.parse(process.env.EVENT);
      const outcomes = await handler(event, { getRemainingTimeInMillis: () => 30000, awsRequestId: 'r1', functionName: 'atrest-log-group-kms' });
      process.stdout.write(JSON.stringify(outcomes));`;
    const { stdout, stderr } = await run(bin, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        EVENT: sample('aws/log-group-kms/create-log-group.json'),
        ATREST_CONFIG_JSON: JSON.stringify(CONFIG),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: service.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
    });
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toMatchObject([
      { function: 'aws.log-group-kms', outcome: 'applied', attempts: 1 },
    ]);
    expect(state.logGroup('/app/orders/api')?.kmsKeyId).toBe(KEY);
  });

  it('aws.log-group-kms loads re2js from its side file for an RE2-only exclude pattern', async () => {
    const { service, state } = await logs;
    state.seedLogGroup('/app/orders/api');
    // A quantified group is not a "plain" pattern, so config.ts loads re2js, which the bundle
    // ships beside itself (infra/bundle.ts LAZY_PACKAGES) rather than inside.
    const config = { aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^/app/(orders|billing)+/'] } } };
    const script = `
      const { handler } = await import(${JSON.stringify(pathToFileURL(awsBundle).href)});
      const outcomes = await handler(JSON.parse(process.env.EVENT), { getRemainingTimeInMillis: () => 30000, awsRequestId: 'r2', functionName: 'atrest-log-group-kms' });
      process.stdout.write(JSON.stringify(outcomes));`;
    const { stdout, stderr } = await run(bin, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        EVENT: sample('aws/log-group-kms/create-log-group.json'),
        ATREST_CONFIG_JSON: JSON.stringify(config),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: service.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
    });
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toMatchObject([{ function: 'aws.log-group-kms', outcome: 'excluded' }]);
  });

  it('alicloud.logstore-encryption (CommonJS) applies encryption through the emulator', async () => {
    const emulator = await sls;
    emulator.state.seedLogstore('app-logs-prod', 'access-log');
    const script = `
      const { handler } = require(${JSON.stringify(slsBundle)});
      handler(Buffer.from(process.env.EVENT), { requestId: 'r1', function: { name: 'atrest-logstore-encryption', timeout: 30 }, region: 'cn-hangzhou', accountId: '1234567890123456' })
        .then((outcomes) => process.stdout.write(JSON.stringify(outcomes)));`;
    const { stdout } = await run(bin, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        EVENT: sample('alicloud/logstore-encryption/create-logstore.json'),
        ATREST_CONFIG_JSON: JSON.stringify(CONFIG),
        ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
        ALIBABA_CLOUD_ENDPOINT_SLS: emulator.url,
      },
    });
    // The FC adapter writes one JSON log line per outcome, then the handler's return value.
    const returned = stdout.slice(stdout.lastIndexOf('\n') + 1);
    expect(JSON.parse(returned)).toMatchObject([
      { function: 'alicloud.logstore-encryption', outcome: 'applied' },
    ]);
    expect(emulator.state.logstore('app-logs-prod', 'access-log')?.encrypt_conf?.enable).toBe(true);
  });

  it('alicloud.logstore-encryption runs the trail path from its lazily loaded chunk (CommonJS require)', async () => {
    // Prepare: the trail delivered the creation record to the range the sample SLS trigger names.
    const emulator = await sls;
    emulator.state.seedLogstore('app-logs-prod', 'trail-log');
    const trigger = JSON.parse(sample('alicloud/logstore-encryption/create-logstore.sls-trigger.json'));
    const range = emulator.state.appendLogs(trigger.source.projectName, trigger.source.logstoreName, 0, {
      topic: 'actiontrail_audit_event',
      logs: [
        {
          time: 1_795_161_600,
          contents: { event: sample('alicloud/logstore-encryption/create-logstore.record.json') },
        },
      ],
    });
    expect(range).toEqual({ beginCursor: trigger.source.beginCursor, endCursor: trigger.source.endCursor });
    const script = `
      const { handler } = require(${JSON.stringify(slsBundle)});
      const trailChunks = () => Object.keys(require.cache).filter((f) => /[\\/]chunks[\\/]trail-invocation-/.test(f)).length;
      const before = trailChunks();
      handler(Buffer.from(process.env.EVENT), { requestId: 'r3', function: { name: 'atrest-logstore-encryption', timeout: 30 }, region: 'cn-hangzhou', accountId: '1234567890123456' })
        .then((outcomes) => process.stdout.write('\\n' + JSON.stringify({ before, after: trailChunks(), outcomes })));`;

    // Act
    const { stdout, stderr } = await run(bin, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        EVENT: JSON.stringify(trigger),
        ATREST_CONFIG_JSON: JSON.stringify(CONFIG),
        ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
        ALIBABA_CLOUD_ENDPOINT_SLS: emulator.url,
      },
    });

    // Assess: the trail chunk was not read at import; the trigger loaded it, and it ran.
    const { before, after, outcomes } = JSON.parse(stdout.slice(stdout.lastIndexOf('\n') + 1));
    expect(stderr).toBe('');
    expect([before, after]).toEqual([0, 1]);
    expect(outcomes).toMatchObject([{ function: 'alicloud.logstore-encryption', outcome: 'applied' }]);
    expect(emulator.state.logstore('app-logs-prod', 'trail-log')?.encrypt_conf?.enable).toBe(true);
  });
});
