/**
 * The fault matrix: every cloud fault a remediation meets, for all five functions, through the
 * emulators with the real clients and the engine. One table of cells; each function's driver says
 * how its service answers, and a few cells differ by design (each driver's `matrix`, with the reason).
 *
 * Each cell asserts the outcome, the write attempts, the write calls the service saw (and how many
 * succeeded), the emulator's final state, and the idempotency record: a settled outcome keeps it (a
 * second delivery is `duplicate` with no API call), anything else releases it (the next delivery
 * runs again) — a failed attempt never leaves a lock behind.
 *
 * Every cell runs on two paths: the creation path (the creation event, a resource without the
 * encryption) and the restore path (the function's tamper event, the resource as the tamper left
 * it). The restore path meets the same faults with the same answers: a restore is a remediation.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Config } from '../../functions/config.ts';
import {
  type Answer,
  type AnyRemediator,
  allDrivers,
  type CellId,
  type Driver,
  deliver,
  type MatrixExpect as Expect,
  MAX_ATTEMPTS,
} from './drivers.ts';
import { type LagProxy, startLagProxy } from './lag-proxy.ts';

interface Arranged {
  config?: Config;
  remediator?: AnyRemediator;
  /** Expected code decided while arranging (key cells). */
  code?: string;
  cleanup?: () => Promise<void>;
  /** Extra assertions after the delivery. */
  check?: () => void;
}

interface Cell {
  id: CellId;
  arrange(d: Driver): Arranged | Promise<Arranged> | undefined;
  expect(d: Driver): Expect;
}

const fail = (d: Driver, action: string, answer: Answer, times: number) =>
  d.service.failNext(action, { ...answer, times });
const reset: Answer = { status: 0, code: 'ECONNRESET', transport: 'reset' };
const hang: Answer = { status: 0, code: 'RequestTimeout', transport: 'hang' };

const applied = (attempts: number, extra: Partial<Expect> = {}): Expect => ({
  outcome: 'applied',
  attempts,
  writeCalls: attempts,
  okWrites: 1,
  encrypted: true,
  record: 'kept',
  ...extra,
});
const failedAt = (attempts: number, code: string, extra: Partial<Expect> = {}): Expect => ({
  outcome: 'failed',
  attempts,
  writeCalls: attempts,
  okWrites: 0,
  encrypted: false,
  record: 'released',
  code,
  ...extra,
});

const CELLS: Cell[] = [
  {
    id: 'conflict x1',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.conflict, 1);
    },
    // The state is read again after a conflict: someone else may have done it.
    expect: () => applied(2, { readCalls: 3 }),
  },
  {
    id: 'conflict x2',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.conflict, 2);
    },
    expect: () => applied(3, { readCalls: 4 }),
  },
  {
    id: 'conflict beyond the budget',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.conflict, 99);
    },
    expect: (d) =>
      failedAt(MAX_ATTEMPTS, d.faults.conflict.code, { exhausted: true, readCalls: MAX_ATTEMPTS }),
  },
  {
    id: 'throttled x2',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.throttle, 2);
    },
    expect: () => applied(3),
  },
  {
    id: 'throttled beyond the budget',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.throttle, 99);
    },
    expect: (d) => failedAt(MAX_ATTEMPTS, d.faults.throttle.code, { exhausted: true }),
  },
  {
    id: '5xx on the write',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.serverError, 1);
    },
    expect: () => applied(2),
  },
  {
    id: '5xx on the read',
    arrange: (d) => {
      d.seed();
      fail(d, d.readAction, d.faults.serverError, 1);
    },
    expect: () => applied(1, { readCalls: 3 }),
  },
  {
    id: 'connection reset on the write',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, reset, 1);
    },
    expect: () => applied(2),
  },
  {
    id: 'connection reset on the read',
    arrange: (d) => {
      d.seed();
      fail(d, d.readAction, reset, 1);
    },
    expect: () => applied(1, { readCalls: 3 }),
  },
  {
    id: 'timeout on the write',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, hang, 1);
    },
    expect: () => applied(2),
  },
  {
    id: 'timeout on the read',
    arrange: (d) => {
      d.seed();
      fail(d, d.readAction, hang, 1);
    },
    expect: () => applied(1, { readCalls: 3 }),
  },
  {
    id: 'not found before the read',
    arrange: (d) => {
      d.remove();
    },
    // `gone` is settled: the record is kept so re-deliveries cost nothing.
    expect: () => ({
      outcome: 'gone',
      attempts: 0,
      writeCalls: 0,
      okWrites: 0,
      encrypted: false,
      record: 'kept',
    }),
  },
  {
    id: 'not found between read and write',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.goneOnWrite, 1);
    },
    expect: () => ({
      outcome: 'gone',
      attempts: 1,
      writeCalls: 1,
      okWrites: 0,
      encrypted: false,
      record: 'kept',
    }),
  },
  {
    id: 'not ready',
    arrange: (d) => {
      d.notReady?.();
    },
    expect: () => ({
      outcome: 'deferred',
      attempts: 0,
      writeCalls: 0,
      okWrites: 0,
      encrypted: false,
      record: 'released',
    }),
  },
  {
    id: 'permission denied on the write',
    arrange: (d) => {
      d.seed();
      fail(d, d.writeAction, d.faults.denied, 1);
    },
    // Retrying a denial only burns quota: one write, then `failed` with the service's code.
    expect: (d) => failedAt(1, d.faults.denied.code),
  },
  {
    id: 'permission denied on the read',
    arrange: (d) => {
      d.seed();
      fail(d, d.readAction, d.faults.denied, 1);
    },
    expect: (d) => failedAt(0, d.faults.denied.code, { readCalls: 1 }),
  },
  {
    id: 'key disabled',
    arrange: (d) => {
      d.seed();
      return d.arrangeKey('disabled');
    },
    expect: () => failedAt(1, ''),
  },
  {
    id: 'key missing',
    arrange: (d) => {
      d.seed();
      return d.arrangeKey('missing');
    },
    expect: () => failedAt(1, ''),
  },
  {
    id: 'read-back shows the old state once',
    arrange: async (d) => {
      d.seed();
      const proxy: LagProxy = await startLagProxy(d.url, d.kindOf);
      return {
        remediator: d.remediator(proxy.url),
        cleanup: () => proxy.stop(),
        // Three reads: before, the stale read-back (answered by the proxy), the fresh one.
        check: () => expect(proxy.staleAnswers()).toBe(d.callsPerRead),
      };
    },
    // Verify reads again instead of reporting a write that did land as missing.
    expect: () => applied(1, { readCalls: 2 }),
  },
  {
    id: 'the write lands but its answer is lost',
    arrange: async (d) => {
      d.seed();
      const proxy: LagProxy = await startLagProxy(d.url, d.kindOf, 'lose-write-answer');
      return {
        remediator: d.remediator(proxy.url),
        cleanup: () => proxy.stop(),
        check: () => expect(proxy.staleAnswers()).toBe(1),
      };
    },
    // The retry repeats a write that already landed: every seed API here is idempotent.
    expect: () => applied(2, { okWrites: 2 }),
  },
];

/** A cell that hangs fails fast instead of waiting for vitest's 30 s. */
const CELL_TIMEOUT_MS = 5_000;

const drivers = allDrivers();

describe('the matrix covers every cell for every function', () => {
  it.each(drivers.map((d) => [d.id, d] as const))('%s: each cell is tested or explained', (_id, d) => {
    const overrides = d.matrix ?? {};
    const explained = CELLS.filter((c) => {
      const o = overrides[c.id];
      return o !== undefined && 'na' in o;
    });
    // Only "not ready" may be not applicable, and only with a reason.
    expect(explained.every((c) => c.id === 'not ready')).toBe(true);
    expect(explained.every((c) => (overrides[c.id] as { na: string }).na.length > 20)).toBe(true);
    expect(d.notReady === undefined).toBe(explained.length === 1);
  });
});

type Path = 'creation' | 'restore';

/** The restore path's view of a driver: `seed` leaves the resource as its tamper event does. */
const onPath = (d: Driver, path: Path): Driver =>
  path === 'creation' ? d : (Object.create(d, { seed: { value: (i?: number) => d.strip(i) } }) as Driver);

// Each path gets drivers of its own: a driver caches clients bound to the emulator it started.
const restoreDrivers = allDrivers();

describe.each(
  drivers.flatMap((d, i) =>
    (['creation', 'restore'] as const).map(
      (path) => [d.id, path, path === 'creation' ? d : (restoreDrivers[i] as Driver)] as const,
    ),
  ),
)('fault matrix: %s, %s path', (_id, path, driver) => {
  const d = onPath(driver, path);
  const tamper = path === 'restore';
  beforeAll(async () => {
    await driver.start();
  });
  afterAll(async () => {
    await driver.stop();
  });
  beforeEach(() => {
    d.reset();
  });

  const cells = CELLS.filter((c) => {
    const o = d.matrix?.[c.id];
    return !(o !== undefined && 'na' in o);
  });

  it.each(cells.map((c) => [c.id, c] as const))(
    '%s',
    async (_cell, cell) => {
      // Prepare
      const store = new MemoryIdempotencyStore();
      const arranged = (await cell.arrange(d)) ?? {};
      const override = d.matrix?.[cell.id] as Partial<Expect> | undefined;
      const want: Expect = { ...cell.expect(d), ...override };
      if (arranged.code !== undefined) want.code = arranged.code;

      // Act
      let outcome: Awaited<ReturnType<typeof deliver>>;
      try {
        outcome = await deliver(d, {
          store,
          tamper,
          ...(arranged.config ? { config: arranged.config } : {}),
          ...(arranged.remediator ? { remediator: arranged.remediator } : {}),
        });
      } finally {
        await arranged.cleanup?.();
        d.restoreEndpoint();
      }

      // Assess: the outcome and what the service saw
      const writes = d.service.calls.filter((c) => c.action === d.writeAction);
      expect({
        outcome: outcome.outcome,
        attempts: outcome.attempts,
        writeCalls: writes.length,
        okWrites: writes.filter((c) => c.status >= 200 && c.status < 300).length,
        encrypted: d.encrypted(),
      }).toEqual({
        outcome: want.outcome,
        attempts: want.attempts,
        writeCalls: want.writeCalls,
        okWrites: want.okWrites,
        encrypted: want.encrypted,
      });
      if (want.readCalls !== undefined)
        expect(d.service.count({ action: d.readAction })).toBe(want.readCalls);
      if (want.code !== undefined) {
        // Explained: the service's own code and request id, so an operator can quote them.
        expect(outcome.error).toMatchObject({ code: want.code, requestId: expect.stringMatching(/^emu-/) });
        expect(outcome.error?.message.includes('retries exhausted')).toBe(want.exhausted === true);
      } else {
        expect(outcome.error).toBeUndefined();
      }
      if (want.outcome === 'deferred') expect(outcome.reason).toEqual(expect.any(String));
      arranged.check?.();

      // Assess: the idempotency record, through the next delivery of the same work
      d.service.clearFaults();
      d.service.resetLog();
      expect(store.size).toBe(want.record === 'kept' ? 1 : 0);
      const next = await deliver(d, {
        store,
        tamper,
        ...(arranged.config ? { config: arranged.config } : {}),
      });
      if (want.record === 'kept') {
        expect(next.outcome).toBe('duplicate');
        expect(d.service.calls).toHaveLength(0);
      } else {
        expect(next.outcome).not.toBe('duplicate');
        expect(d.service.calls.length).toBeGreaterThan(0);
      }
    },
    CELL_TIMEOUT_MS,
  );
});
