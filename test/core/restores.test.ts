import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decideTake,
  FileRestoreCounter,
  localRestoreCounter,
  MemoryRestoreCounter,
  restoreKey,
  WINDOW_MS,
  windowOf,
} from '#core/restores';

const T = 1_800_000_000_000;

describe('restoreKey', () => {
  it('is per resource, and parts never run together', () => {
    const a = restoreKey({ functionId: 'f', account: '1', region: 'r', resource: 'x|y' });
    const b = restoreKey({ functionId: 'f', account: '1', region: 'r|x', resource: 'y' });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });
});

describe.each([
  ['memory', () => new MemoryRestoreCounter()],
  ['file', () => new FileRestoreCounter(join(mkdtempSync(join(tmpdir(), 'atrest-restores-')), 'r.json'))],
])('%s counter', (_name, make) => {
  it('counts distinct tampers up to the limit within an hour, then refuses', async () => {
    const counter = make();
    const takes = [];
    for (let i = 0; i < 4; i++) takes.push(await counter.take('k', `call-${i}`, 3, T + i * 60_000));
    expect(takes).toEqual([
      { allowed: true, count: 1 },
      { allowed: true, count: 2 },
      { allowed: true, count: 3 },
      { allowed: false, count: 3 },
    ]);
  });

  it('never counts one tamper twice (a retry, a re-queue, a redelivery)', async () => {
    const counter = make();
    for (let i = 0; i < 5; i++)
      expect(await counter.take('k', 'call-a', 2, T)).toEqual({ allowed: true, count: 1 });
    expect(await counter.take('k', 'call-b', 2, T)).toEqual({ allowed: true, count: 2 });
    expect(await counter.take('k', 'call-c', 2, T)).toEqual({ allowed: false, count: 2 });
    // The counted ones stay allowed: their retries may still write.
    expect(await counter.take('k', 'call-a', 2, T)).toEqual({ allowed: true, count: 2 });
  });

  it('starts over in the next clock hour and keeps resources apart', async () => {
    const counter = make();
    await counter.take('k', 'a', 1, T);
    expect(await counter.take('k', 'b', 1, T)).toEqual({ allowed: false, count: 1 });
    expect(await counter.take('other', 'b', 1, T)).toEqual({ allowed: true, count: 1 });
    const nextHour = (windowOf(T) + 1) * WINDOW_MS;
    expect(await counter.take('k', 'b', 1, nextHour)).toEqual({ allowed: true, count: 1 });
  });
});

describe('localRestoreCounter', () => {
  it('remembers across CLI runs beside the idempotency file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'atrest-restores-')), 'idem.json');
    await localRestoreCounter({ ATREST_IDEMPOTENCY_FILE: file }).take('k', 'a', 1, T);
    expect(await localRestoreCounter({ ATREST_IDEMPOTENCY_FILE: file }).take('k', 'b', 1, T)).toMatchObject({
      allowed: false,
    });
    expect(await localRestoreCounter({}).take('k', 'b', 1, T)).toMatchObject({ allowed: true });
  });
});

describe('decideTake', () => {
  it('allows a counted call, refuses a new one at the limit, adds a new one below it', () => {
    expect(decideTake(['a'], 'a', 1)).toEqual({ allowed: true, count: 1, add: false });
    expect(decideTake(['a'], 'b', 1)).toEqual({ allowed: false, count: 1, add: false });
    expect(decideTake([], 'b', 1)).toEqual({ allowed: true, count: 1, add: true });
  });
});
