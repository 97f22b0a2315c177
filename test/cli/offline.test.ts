/**
 * The README's "Try it offline" path, end to end in one process: `atrest init` writes a config,
 * the emulator (`npm run emulator`'s startOfflineCloud) seeds its keys, then `doctor`, `replay
 * events/` and `sweep` all work against it with the exported variables and nothing else.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEmulator } from '../../bin/emulator.ts';
import { main } from '../../functions/cli/main.ts';
import { REPO_ROOT } from '../../infra/functions.ts';
import { captureIo, countBy, outcomesOf } from './helpers.ts';

const US = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
let stop: () => Promise<void>;
let env: Record<string, string>;
const saved = { ...process.env };

beforeAll(async () => {
  const config = join(mkdtempSync(join(tmpdir(), 'atrest-offline-')), 'atrest.json');
  const init = captureIo({});
  expect(
    await main(
      [
        'init',
        '--out',
        config,
        '--aws-key',
        US,
        '--alicloud-key',
        'key-hzz6c1f2b3a4d5e6f7g8h',
        '--alicloud-region',
        'cn-hangzhou',
      ],
      init,
    ),
  ).toBe(0);
  const printed: string[] = [];
  stop = await runEmulator(['--config', config], (l) => printed.push(l));
  // Exactly what the user pastes: the printed export lines.
  env = Object.fromEntries(
    printed
      .filter((l) => l.startsWith('export '))
      .map((l) => {
        const [, k = '', v = ''] = /^export ([A-Z_0-9]+)='(.*)'$/.exec(l) ?? [];
        return [k, v];
      }),
  );
  // The AWS SDK reads its credentials and endpoints from process.env, as in a shell.
  Object.assign(process.env, env);
});
afterAll(async () => {
  await stop();
  for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('offline: init → emulator → doctor / replay / sweep', () => {
  it('prints an ATREST_CONFIG and every endpoint override', () => {
    expect(JSON.parse(readFileSync(env.ATREST_CONFIG ?? '', 'utf8')).aws.logGroupKms.kmsKeyArn).toBe(US);
    for (const name of [
      'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS',
      'AWS_ENDPOINT_URL_KMS',
      'ALIBABA_CLOUD_ENDPOINT_SLS',
      'ALIBABA_CLOUD_ENDPOINT_KMS',
    ])
      expect(env[name]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('doctor passes with per-cloud regions', async () => {
    const io = captureIo(env);
    const code = await main(['doctor', '--aws-region', 'us-east-1', '--alicloud-region', 'cn-hangzhou'], io);

    expect(io.stdout.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(code).toBe(0);
  });

  it('replay events/ encrypts what the samples name, nothing fails', async () => {
    const io = captureIo(env);
    const code = await main(['replay', join(REPO_ROOT, 'events')], io);
    const counts = countBy(outcomesOf(io));

    expect(code).toBe(0);
    expect(counts.failed ?? 0).toBe(0);
    expect(counts.applied).toBeGreaterThanOrEqual(5);
  });

  it('sweep --dry-run ends with what would change, then sweep changes exactly that', async () => {
    const dry = captureIo(env);
    await main(['sweep', 'aws.log-group-kms', '--region', 'us-east-1', '--dry-run', '--rate', '100'], dry);
    const would = outcomesOf(dry)
      .filter((o) => o.outcome === 'applied')
      .map((o) => o.resource)
      .sort();
    expect(would.length).toBeGreaterThan(0);
    expect(dry.stderr.join('\n')).toMatch(
      new RegExp(`dry run, nothing written: ${would.length} would change`),
    );

    const real = captureIo(env);
    expect(await main(['sweep', 'aws.log-group-kms', '--region', 'us-east-1', '--rate', '100'], real)).toBe(
      0,
    );
    expect(
      outcomesOf(real)
        .filter((o) => o.outcome === 'applied')
        .map((o) => o.resource)
        .sort(),
    ).toEqual(would);
  });
});

describe('npm run emulator as a process', { timeout: 60_000 }, () => {
  it('prints the exports, serves on loopback, and exits 0 on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(
      join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      [join(REPO_ROOT, 'bin', 'emulator.ts')],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      // Bounded wait for the last hint line (the process prints everything at once when ready).
      for (let i = 0; i < 200 && !out.includes('npx atrest sweep alicloud'); i++)
        await new Promise((r) => setTimeout(r, 100));
      const logs = /^export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS='(http:\/\/127\.0\.0\.1:\d+)'$/m.exec(out)?.[1];

      expect(logs).toBeDefined();
      const answer = await fetch(`${logs}/`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
      expect(answer.status).toBeGreaterThanOrEqual(400); // unsigned: refused, but served
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      // Never leave the emulator running when an assertion above fails.
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
