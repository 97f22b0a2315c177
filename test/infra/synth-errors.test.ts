/**
 * Synth and deploy end on a bad config with one line naming the field and exit 1, not a stack
 * trace: run as the user runs it (a child process), since the trace is what the process prints.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/errors.ts';
import { oneLine } from '../../infra/cli-errors.ts';
import { REPO_ROOT } from '../../infra/functions.ts';

const exec = promisify(execFile);
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

async function run(script: string, args: string[]) {
  try {
    const { stdout, stderr } = await exec(TSX, [join(REPO_ROOT, script), ...args], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('infra entry points on a bad config', { timeout: 90_000 }, () => {
  const bad = join(mkdtempSync(join(tmpdir(), 'atrest-synth-')), 'bad.json');
  writeFileSync(bad, JSON.stringify({ aws: { logGroupKms: { kmsKeyArn: 'alias/logs' } } }));

  it.each([
    [
      'infra/synth.ts',
      ['--config', bad, '--alarm-email', 'a@b.c'],
      /^synth: config\.aws\.logGroupKms\.kmsKeyArn: is a key alias/,
    ],
    [
      'infra/deploy.ts',
      ['aws', '--config', bad, '--alarm-email', 'a@b.c', '--region', 'us-east-1', '--dry-run'],
      /^deploy: config\.aws\.logGroupKms\.kmsKeyArn: is a key alias/,
    ],
    ['infra/synth.ts', ['--config', bad], /^synth: --alarm-email: required/],
  ])('%s %j: one line, exit 1', async (script, args, message) => {
    const { code, stderr } = await run(script, args);

    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('keeps the trace of an unexpected error (a bug is not a config mistake)', () => {
    expect(oneLine(new TypeError('x is undefined'), 'synth')).toBeUndefined();
    expect(oneLine(new ConfigError(['a: b', 'c: d']), 'synth')).toBe('synth: a: b; c: d');
  });
});
