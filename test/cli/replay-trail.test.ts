/**
 * `atrest replay` of the trail path's forms: a bare ActionTrail record file, and an FC SLS-trigger
 * event file, which the CLI expands into the records of its range (signed PullLogs against the
 * emulator) and routes one by one to the function that owns each.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import { Registry } from '../../functions/cli/registry.ts';
import { startCallerSts } from '../emulator/accounts.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { type OssTablesEmulator, startOssTables } from '../emulator/oss-tables.ts';
import { type SlsEmulator, startSls } from '../emulator/sls.ts';
import { captureIo, outcomesOf, writeConfig, writeEvents } from './helpers.ts';

const path = (file: string) => new URL(`../../events/alicloud/${file}`, import.meta.url).pathname;
const load = (file: string) => JSON.parse(readFileSync(path(file), 'utf8')) as Record<string, unknown>;

describe('atrest replay: trail forms', () => {
  let sls: SlsEmulator;
  let tables: OssTablesEmulator;
  let env: Record<string, string>;
  // The CLI asks STS GetCallerIdentity for its own account (once per run).
  let sts: Awaited<ReturnType<typeof startCallerSts>>;
  const config = writeConfig({
    alicloud: {
      logstoreEncryption: { encryptType: 'default' },
      tableBucketEncryption: { sseAlgorithm: 'AES256' },
    },
  });

  beforeAll(async () => {
    [sls, tables, sts] = await Promise.all([startSls(), startOssTables(), startCallerSts()]);
    env = {
      ...sts.env,
      ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
      ALIBABA_CLOUD_ENDPOINT_SLS: sls.url,
      ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: tables.url,
    };
  });
  afterAll(async () => {
    await Promise.all([sls.stop(), tables.stop(), sts.stop()]);
  });

  it.each([
    ['logstore-encryption/create-logstore.record.json', 'alicloud.logstore-encryption'],
    ['cluster-kms/create-cluster.record.json', 'alicloud.cluster-kms'],
    ['table-bucket-encryption/create-table-bucket.record.json', 'alicloud.table-bucket-encryption'],
    ['disk-default-kms/enable-disk-encryption-by-default.record.json', 'alicloud.disk-default-kms'],
    ['cluster-kms/create-cluster.console.json', 'alicloud.cluster-kms'],
    ['logstore-encryption/create-logstore.service.json', 'alicloud.logstore-encryption'],
  ])('routes %s to %s', async (file, id) => {
    expect((await new Registry({ env: {} }).route(load(file)))?.id).toBe(id);
  });

  it('replays a bare ActionTrail record file', async () => {
    // Prepare
    sls.state.seedLogstore('app-logs-prod', 'trail-log');
    const io = captureIo(env);

    // Act
    const code = await main(
      ['replay', '--config', config, path('logstore-encryption/create-logstore.record.json')],
      io,
    );

    // Assess
    expect(code).toBe(0);
    expect(outcomesOf(io)).toMatchObject([
      { function: 'alicloud.logstore-encryption', resource: 'app-logs-prod/trail-log', outcome: 'applied' },
    ]);
  });

  it('replays an SLS-trigger event: every record of the range goes to its own function', async () => {
    // Prepare: the trail logstore's shard 0 holds a logstore record and a table bucket record
    sls.state.seedLogstore('app-logs-prod', 'trail-log');
    tables.state.seedBucket('trail-tables');
    const put = (record: Record<string, unknown>) =>
      sls.state.appendLogs('atrest-trail-1234567890123456', 'actiontrail_atrest-trail', 0, {
        logs: [{ time: 1, contents: { event: JSON.stringify(record) } }],
      });
    const first = put(load('logstore-encryption/create-logstore.record.json'));
    const last = put(load('table-bucket-encryption/create-table-bucket.record.json'));
    const trigger = load('logstore-encryption/create-logstore.sls-trigger.json');
    trigger.source = {
      ...(trigger.source as object),
      beginCursor: first.beginCursor,
      endCursor: last.endCursor,
    };
    const io = captureIo(env);

    // Act
    const code = await main(['replay', '--config', config, writeEvents('trigger.json', trigger)], io);

    // Assess
    expect(code).toBe(0);
    expect(outcomesOf(io)).toMatchObject([
      { function: 'alicloud.logstore-encryption', outcome: 'applied' },
      { function: 'alicloud.table-bucket-encryption', outcome: 'applied' },
    ]);
    expect(sls.service.count({ action: 'PullLogs', ok: true })).toBeGreaterThan(0);
  });

  it('an unreadable range is a failed line with SLS code and request id, exit 1', async () => {
    // Prepare
    sls.service.failNext('PullLogs', { status: 403, code: 'Unauthorized', times: 1 });
    const io = captureIo(env);

    // Act
    const code = await main(
      ['replay', '--config', config, path('logstore-encryption/create-logstore.sls-trigger.json')],
      io,
    );

    // Assess
    expect(code).toBe(1);
    expect(outcomesOf(io)).toMatchObject([
      { outcome: 'failed', error: { code: 'Unauthorized', requestId: expect.any(String) } },
    ]);
  });
});
