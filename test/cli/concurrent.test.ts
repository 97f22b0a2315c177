/**
 * The CLI's file store under real concurrency, as users meet it: `node bin/atrest.mjs sweep …` in
 * child processes sharing one `ATREST_IDEMPOTENCY_FILE`, the CloudWatch Logs emulator in this one.
 * Two sweeps at once write each group once and lose no record; a sweep killed with SIGKILL in the
 * middle of its writes, run again, applies what was in flight instead of calling it `duplicate`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { logGroupArn } from '../../functions/aws/log-group-kms/remediator.ts';
import { idempotencyKey } from '../../functions/core/idempotency.ts';
import type { Outcome } from '../../functions/core/outcome.ts';
import { startCallerSts } from '../emulator/accounts.ts';
import {
  type CloudWatchLogsState,
  DUMMY_CREDENTIALS,
  startCloudWatchLogs,
} from '../emulator/cloudwatch-logs.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { BIN, ROOT, writeConfig } from './helpers.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let logs: EmulatedService;
let state: CloudWatchLogsState;
let config: string;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  outcomes: Outcome[];
  stderr: string;
}

function start(args: string[], store: string): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
      ...sts.env,
      ATREST_CONFIG: config,
      ATREST_IDEMPOTENCY_FILE: store,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stderr,
        outcomes: stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Outcome),
      }),
    );
  });
  return { child, done };
}

const sweepArgs = [
  'sweep',
  'aws.log-group-kms',
  '--region',
  'us-east-1',
  '--rate',
  '2000',
  '--concurrency',
  '8',
];
const groups = (n: number) =>
  Array.from({ length: n }, (_, i) => `/concurrent/group-${String(i).padStart(4, '0')}`);
const writes = () => logs.calls.filter((c) => c.action === 'AssociateKmsKey' && c.status === 200).length;

/** Every record of the store folder: its latest version's status. */
function records(store: string): string[] {
  if (!existsSync(store)) return [];
  return readdirSync(store).map((key) => {
    const versions = readdirSync(join(store, key))
      .filter((f) => /^\d+\.json$/.test(f))
      .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    const latest = versions.at(-1);
    return latest
      ? (JSON.parse(readFileSync(join(store, key, latest), 'utf8')) as { status: string }).status
      : 'none';
  });
}

// The CLI asks STS GetCallerIdentity for its own account (once per run).
let sts: Awaited<ReturnType<typeof startCallerSts>>;

beforeAll(async () => {
  ({ service: logs, state } = await startCloudWatchLogs());
  sts = await startCallerSts();
  config = writeConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } } });
});
afterAll(() => Promise.all([logs.stop(), sts.stop()]));
beforeEach(() => {
  for (const name of state.names()) state.delete(name);
  state.seedKey(KEY);
  logs.clearFaults();
  logs.resetLog();
});

describe('the CLI file store across processes', () => {
  it('a group held by a running process is an unsettled duplicate: exit 1, nothing written twice', async () => {
    const [held, free] = groups(2) as [string, string];
    state.seedLogGroup(held).seedLogGroup(free);
    const store = join(mkdtempSync(join(tmpdir(), 'atrest-held-')), 'idempotency');
    const key = idempotencyKey({
      functionId: 'aws.log-group-kms',
      account: '111122223333',
      region: 'us-east-1',
      resource: logGroupArn('us-east-1', '111122223333', held),
      desired: KEY,
    });
    // This test process holds it (alive): another run is writing it right now.
    mkdirSync(join(store, key), { recursive: true });
    writeFileSync(
      join(store, key, '1.json'),
      JSON.stringify({
        status: 'inProgress',
        expiresAt: Date.now() + 600_000,
        startedAt: Date.now(),
        owner: { pid: process.pid, host: hostname(), token: 'test' },
      }),
    );

    const run = await start(sweepArgs, store).done;

    expect(run.code).toBe(1);
    expect(run.outcomes.find((o) => o.resource.endsWith(held))).toMatchObject({
      outcome: 'duplicate',
      settled: false,
    });
    expect(run.outcomes.find((o) => o.resource.endsWith(free))?.outcome).toBe('applied');
    expect(writes()).toBe(1);
  }, 60_000);

  it('two sweeps at once over one store: each group written once, every record kept', async () => {
    const names = groups(300);
    for (const name of names) state.seedLogGroup(name);
    const store = join(mkdtempSync(join(tmpdir(), 'atrest-concurrent-')), 'idempotency');

    const [a, b] = await Promise.all([start(sweepArgs, store).done, start(sweepArgs, store).done]);

    const all = [...(a?.outcomes ?? []), ...(b?.outcomes ?? [])];
    expect(writes()).toBe(names.length);
    expect(names.filter((n) => state.logGroup(n)?.kmsKeyId !== KEY)).toEqual([]);
    expect(all.filter((o) => o.outcome === 'applied')).toHaveLength(names.length);
    expect(all.filter((o) => o.outcome === 'failed')).toEqual([]);
    expect(records(store).filter((s) => s === 'completed')).toHaveLength(names.length);
  }, 120_000);

  it('a sweep killed mid-write, run again: what was in flight is applied, not duplicate', async () => {
    const names = groups(40);
    for (const name of names) state.seedLogGroup(name);
    const store = join(mkdtempSync(join(tmpdir(), 'atrest-killed-')), 'idempotency');
    // The first three writes never get an answer: the process is killed while they wait.
    logs.failNext('AssociateKmsKey', { status: 0, code: 'Hang', transport: 'hang', times: 3 });

    const first = start(sweepArgs, store);
    for (let i = 0; i < 3_000 && logs.calls.filter((c) => c.action === 'AssociateKmsKey').length < 3; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    first.child.kill('SIGKILL');
    const killed = await first.done;
    const inFlight = records(store).filter((s) => s === 'inProgress').length;
    const again = await start(sweepArgs, store).done;

    expect(killed.signal).toBe('SIGKILL');
    expect(inFlight).toBeGreaterThanOrEqual(3);
    expect(again.outcomes.filter((o) => o.outcome === 'duplicate')).toEqual([]);
    expect(again.outcomes.filter((o) => o.outcome === 'applied').length).toBeGreaterThanOrEqual(inFlight);
    expect(again.code).toBe(0);
    expect(names.filter((n) => state.logGroup(n)?.kmsKeyId !== KEY)).toEqual([]);
  }, 120_000);
});
