/**
 * A success answer that lacks what the read needs is never a state. For each function, through its
 * emulator with the real clients: the read answers HTTP 200 with `{}` or an empty body. Before,
 * `{}` read as "no such log group" (`gone`), "not an ACK Pro cluster" (`excluded`), "default disk
 * encryption off" (`excluded`) — and those outcomes were remembered for the TTL. Now the read is
 * an `UnexpectedResponse`: retried inside the budget (a glitch once is survived), then `failed`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import { allDrivers, deliver, MAX_ATTEMPTS } from './drivers.ts';

describe.each(allDrivers().map((d) => [d.id, d] as const))('%s', (_id, d) => {
  beforeAll(() => d.start());
  afterAll(() => d.stop());
  beforeEach(() => d.reset());

  it.each([
    ['{}', '{}'],
    ['an empty body', ''],
  ])(
    'a 200 with %s on every read ends failed UnexpectedResponse after the retry budget, remembering nothing',
    async (_what, body) => {
      d.seed(0);
      // The call whose answer decides the state (ECS: the status comes first).
      const read = d.firstReadAction ?? d.readAction;
      d.service.failNext(read, { status: 200, code: 'Malformed', body, times: 100 });
      const store = new MemoryIdempotencyStore();

      const outcome = await deliver(d, { store });

      expect(outcome).toMatchObject({
        outcome: 'failed',
        error: { code: 'UnexpectedResponse', requestId: expect.stringMatching(/^emu-/) },
      });
      expect(outcome.error?.message).toContain('retries exhausted');
      expect(d.service.count({ action: read })).toBe(MAX_ATTEMPTS);
      expect(d.service.count({ write: true })).toBe(0);
      expect(store.size).toBe(0);
    },
  );

  it('a 200 with {} once is survived: the next read answers properly and the key is applied', async () => {
    d.seed(0);
    d.service.failNext(d.firstReadAction ?? d.readAction, {
      status: 200,
      code: 'Malformed',
      body: '{}',
      times: 1,
    });
    const store = new MemoryIdempotencyStore();

    const outcome = await deliver(d, { store });

    expect(outcome).toMatchObject({ outcome: 'applied' });
    expect(d.encrypted(0)).toBe(true);
  });
});

describe('alicloud.disk-default-kms, the key read', () => {
  const d = allDrivers().find((x) => x.id === 'alicloud.disk-default-kms');
  if (d === undefined) throw new Error('no ECS driver');
  beforeAll(() => d.start());
  afterAll(() => d.stop());
  beforeEach(() => d.reset());

  it('an empty DescribeDiskDefaultKMSKeyId answer is no key at all: UnexpectedResponse, not a write', async () => {
    d.seed(0);
    d.service.failNext('DescribeDiskDefaultKMSKeyId', {
      status: 200,
      code: 'Malformed',
      body: '{}',
      times: 100,
    });

    const outcome = await deliver(d, { store: new MemoryIdempotencyStore() });

    expect(outcome).toMatchObject({ outcome: 'failed', error: { code: 'UnexpectedResponse' } });
    expect(d.service.count({ write: true })).toBe(0);
  });
});
