/** The org-wide run's checkpoint (functions/cli/checkpoint.ts): what survives a kill, what does not. */
import { appendFileSync, mkdtempSync, readdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_MAX_AGE_MS, Checkpoint, unitKey } from '../../functions/cli/checkpoint.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'atrest-checkpoint-unit-'));
const KEY = { units: ['a', 'b'], config: { x: 1 } };

describe('Checkpoint', () => {
  it('a second run with the same key sees the first run’s finished units, with their data', () => {
    const d = dir();
    const first = Checkpoint.open<{ n: number }>(d, 'sweep', KEY);
    first.record(unitKey('aws.log-group-kms', '111122223333', 'us-east-1'), { n: 3 });

    const second = Checkpoint.open<{ n: number }>(d, 'sweep', KEY);

    expect(second.resumed).toBe(1);
    expect(second.done('aws.log-group-kms|111122223333|us-east-1')).toEqual({ n: 3 });
    expect(second.done('aws.log-group-kms|111122223333|eu-west-1')).toBeUndefined();
  });

  it('another key (other accounts, regions, config or verb) starts afresh', () => {
    const d = dir();
    Checkpoint.open(d, 'sweep', KEY).record('u', 1);

    expect(Checkpoint.open(d, 'sweep', { ...KEY, config: { x: 2 } }).resumed).toBe(0);
    expect(Checkpoint.open(d, 'report', KEY).resumed).toBe(0);
  });

  it('a torn last line (killed mid-write) is skipped: that unit is done again', () => {
    const d = dir();
    const first = Checkpoint.open(d, 'sweep', KEY);
    first.record('u1', 1);
    appendFileSync(first.path, '{"unit":"u2","at":"2026-11-28T0');

    const second = Checkpoint.open(d, 'sweep', KEY);

    expect(second.resumed).toBe(1);
    expect(second.done('u2')).toBeUndefined();
  });

  it('a checkpoint older than a day is dropped: the state it vouches for has moved on', () => {
    const d = dir();
    const first = Checkpoint.open(d, 'sweep', KEY);
    first.record('u1', 1);
    const old = (Date.now() - CHECKPOINT_MAX_AGE_MS - 60_000) / 1000;
    utimesSync(first.path, old, old);

    const second = Checkpoint.open(d, 'sweep', KEY);

    expect(second.resumed).toBe(0);
    expect(readdirSync(d)).toEqual([]);
  });

  it('complete() removes the file', () => {
    const d = dir();
    const c = Checkpoint.open(d, 'sweep', KEY);
    c.record('u1', 1);

    c.complete();

    expect(readdirSync(d)).toEqual([]);
  });
});
