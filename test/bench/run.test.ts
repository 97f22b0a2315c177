/**
 * `npm run bench` on a tiny size, so the benchmark cannot rot: every section runs, the table and
 * results.json have their shape, and the invariants that are not timings hold (nothing lost,
 * nothing written twice, every event applied). No timing is asserted.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureBurst } from '../../bench/burst.ts';
import { formatTable } from '../../bench/report.ts';
import { type BenchResults, contributorsReport, DEFAULT_OPTIONS, runBench } from '../../bench/run.ts';

describe('bench: the whole run on a tiny size', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'atrest-bench-'));
  let results: BenchResults;

  beforeAll(async () => {
    results = await runBench({
      ...DEFAULT_OPTIONS,
      // One function per cloud: both bundle formats, an SDK floor and the no-SDK floor.
      ids: ['aws.log-group-kms', 'alicloud.logstore-encryption'],
      coldStart: { runs: 1 },
      burst: { events: 20, rate: 100, readRate: 200, concurrency: 4, baseline: true },
      overhead: { events: 200, warmup: 10 },
      org: { ...DEFAULT_OPTIONS.org, events: 60, accounts: 5, rate: 50, readRate: 100, concurrency: 8 },
      outDir,
    });
  }, 60_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('organization: every event applied in its own account, once, with one AssumeRole per account', () => {
    expect(results.org).toMatchObject({ lost: 0, doubled: 0, wrongAccount: 0, stsMaxPerAccount: 1 });
    expect(results.org?.outcomes).toEqual({ applied: 60 });
    expect(results.org?.stsCalls).toBe(5);
  });

  it('writes results.json with every section and one row per figure', () => {
    const written = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as BenchResults;
    expect(written.rows).toEqual(results.rows);
    expect(new Set(written.rows.map((r) => r.section))).toEqual(
      new Set(['cold-start', 'economy', 'burst', 'overhead', 'org']),
    );
    for (const row of written.rows) {
      expect(Number.isFinite(row.value), `${row.subject} ${row.metric}`).toBe(true);
      if (row.floor !== undefined) expect(row.ratio).toBeCloseTo(row.value / row.floor, 9);
    }
    expect(formatTable(written.rows).split('\n')).toHaveLength(written.rows.length + 2);
  });

  it('cold start: both bundles built and imported, with what the handler carries beyond its floor', () => {
    const cold = results.coldStart?.functions ?? [];
    expect(cold.map((f) => [f.id, f.floor])).toEqual([
      ['aws.log-group-kms', 'aws-logs-dynamodb'],
      ['alicloud.logstore-encryption', 'node-builtins'],
    ]);
    for (const f of cold) {
      expect(f.handler.importMs).toHaveLength(1);
      expect(f.floorBundle.importMs).toHaveLength(1);
      // The first invocation is timed for the function only (a floor has no handler).
      expect(f.handler.firstMs).toHaveLength(1);
      expect(f.floorBundle.firstMs).toEqual([]);
      expect(f.handler.bytes).toBeGreaterThan(f.floorBundle.bytes);
      expect(f.extra.length).toBeGreaterThan(0);
    }
    // What only some invocations run stays out of what import reads (issue 12, cold start).
    const readAtImport = (id: string) =>
      cold.find((f) => f.id === id)?.handler.inputs.map((c) => c.input) ?? [];
    expect(readAtImport('aws.log-group-kms')).toContain('@aws-sdk/client-cloudwatch-logs');
    expect(readAtImport('aws.log-group-kms')).not.toContain('@aws-sdk/client-sts');
    expect(readAtImport('alicloud.logstore-encryption')).toContain('functions/alicloud/sls.ts');
    for (const rare of ['trail-invocation.ts', 'trail.ts', 'sls-logs.ts', 'accounts.ts', 'openapi.ts'])
      expect(readAtImport('alicloud.logstore-encryption')).not.toContain(`functions/alicloud/${rare}`);
    expect(results.coldStart?.bareNodeMs).toHaveLength(1);
    expect(contributorsReport(results.coldStart ?? { runs: 0, bareNodeMs: [], functions: [] })).toContain(
      'aws.log-group-kms carries',
    );
  });

  it('burst: with and without the limiter, nothing lost, nothing written twice', () => {
    expect(results.burst?.map((b) => [b.id, b.limiter])).toEqual([
      ['aws.log-group-kms', 'none'],
      ['aws.log-group-kms', 'adaptive'],
      ['alicloud.logstore-encryption', 'none'],
      ['alicloud.logstore-encryption', 'adaptive'],
    ]);
    for (const b of results.burst ?? []) {
      expect(b.outcomes).toEqual({ applied: 20 });
      expect([b.lost, b.doubled]).toEqual([0, 0]);
      expect(b.served[b.writeApi]).toBe(20);
    }
  });

  it('overhead: every event applied, one sample per event', () => {
    expect(results.overhead?.outcomes).toEqual({ applied: 200 });
    expect(results.overhead?.overheadMs.p99).toBeGreaterThanOrEqual(0);
  });
});

describe('bench: burst against an enforced rate limit', () => {
  it('throttles above the limit, and still remediates every event exactly once', async () => {
    // 15 creations need 30 reads and 15 writes against 20 reads/s and 10 writes/s: well inside the
    // first second one of the two limits must answer ThrottlingException.
    const result = await measureBurst('aws.log-group-kms', {
      events: 15,
      rate: 10,
      readRate: 20,
      concurrency: 3,
      limiter: 'adaptive',
    });

    expect(Object.values(result.throttled).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(result.outcomes).toEqual({ applied: 15 });
    expect([result.lost, result.doubled]).toEqual([0, 0]);
    expect(result.served.AssociateKmsKey).toBe(15);
  }, 30_000);
});
