/**
 * The API economy invariants, exact: every function, every outcome, counted at the emulator. Not
 * a timing: these counts are the DESIGN.md budget and must not drift.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { stopCloudWatchLogs } from '../../bench/aws-emulator.ts';
import { type EconomyResult, economyRows, measureEconomy, SCENARIOS } from '../../bench/economy.ts';
import { FUNCTION_IDS } from '../../infra/functions.ts';

describe('bench: API economy', () => {
  let results: EconomyResult[];

  afterAll(async () => {
    await stopCloudWatchLogs();
  });

  it('runs every outcome of every function and ends each in the outcome it is about', async () => {
    // Act
    results = await measureEconomy(FUNCTION_IDS);

    // Assess: disk-default-kms has no exclude option, so no excluded scenario.
    expect(results).toHaveLength(FUNCTION_IDS.length * SCENARIOS.length - 1);
    for (const r of results)
      expect(r.outcome, `${r.id} ${r.scenario}`).toBe(
        {
          'non-compliant': 'applied',
          compliant: 'compliant',
          duplicate: 'duplicate',
          excluded: 'excluded',
          ignored: 'ignored',
          rejected: 'rejected',
        }[r.scenario],
      );
    expect(economyRows(results)).toHaveLength(results.length);
  });

  it('spends no call on duplicate, excluded, ignored or rejected, one on compliant, three on non-compliant', () => {
    const calls = Object.fromEntries(results.map((r) => [`${r.id} ${r.scenario}`, r.calls]));
    for (const id of FUNCTION_IDS) {
      for (const scenario of ['duplicate', 'excluded', 'ignored', 'rejected'] as const)
        if (`${id} ${scenario}` in calls) expect(calls[`${id} ${scenario}`], `${id} ${scenario}`).toBe(0);
    }
    for (const id of FUNCTION_IDS.filter((f) => f !== 'alicloud.disk-default-kms')) {
      expect(calls[`${id} compliant`], `${id} compliant`).toBe(1);
      expect(calls[`${id} non-compliant`], `${id} non-compliant`).toBe(3);
    }
    // Known overrun, reported by the benchmark: one logical ECS read is two APIs
    // (DescribeDiskEncryptionByDefaultStatus, then DescribeDiskDefaultKMSKeyId).
    expect(calls['alicloud.disk-default-kms compliant']).toBe(2);
    expect(calls['alicloud.disk-default-kms non-compliant']).toBe(5);
    expect(results.filter((r) => !r.pass).map((r) => `${r.id} ${r.scenario}`)).toEqual([
      'alicloud.disk-default-kms non-compliant',
      'alicloud.disk-default-kms compliant',
    ]);
  });
});
