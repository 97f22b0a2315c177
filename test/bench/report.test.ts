import { describe, expect, it } from 'vitest';
import { extraOver, packageOf } from '../../bench/cold-start.ts';
import { atMost, exactly, formatMarkdown, formatTable } from '../../bench/report.ts';
import { median, percentile } from '../../bench/stats.ts';

describe('bench statistics', () => {
  it('median: middle sample, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('percentile by nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect([percentile(samples, 50), percentile(samples, 99), percentile(samples, 100)]).toEqual([
      50, 99, 100,
    ]);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('bench rows', () => {
  it('a ratio row passes at or under its target, against the floor', () => {
    const base = { section: 'cold-start', subject: 'f', metric: 'import', unit: 'ms' } as const;
    expect(atMost({ ...base, value: 11, floor: 10 }, 1.1)).toMatchObject({
      ratio: 1.1,
      target: '<= 1.10',
      pass: true,
    });
    expect(atMost({ ...base, value: 12, floor: 10 }, 1.1).pass).toBe(false);
    expect(exactly({ ...base, value: 1 }, 0)).toMatchObject({ target: '= 0', pass: false });
  });

  it('prints one aligned table, failures marked', () => {
    const rows = [
      exactly(
        { section: 'burst', subject: 'aws.log-group-kms', metric: 'events lost', value: 0, unit: '' },
        0,
      ),
      atMost({ section: 'burst', subject: 'x', metric: 'wall', value: 30, unit: 's', floor: 20 }, 1.2),
    ];
    const lines = formatTable(rows).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^section\s+subject\s+metric\s+value\s+floor\s+ratio\s+target\s+pass$/);
    expect(lines[2]).toMatch(/events lost\s+0\s+= 0\s+pass$/);
    expect(lines[3]).toMatch(/30 s\s+20 s\s+1\.50\s+<= 1\.20\s+FAIL$/);
    expect(formatMarkdown(rows).split('\n')[3]).toContain('**FAIL**');
  });
});

describe('bundle contributors', () => {
  it('groups inputs by package, keeping our own files as paths', () => {
    expect(packageOf('node_modules/@aws-sdk/client-dynamodb/dist-es/index.js')).toBe(
      '@aws-sdk/client-dynamodb',
    );
    expect(packageOf('node_modules/a/node_modules/zod/v4/core/schemas.js')).toBe('zod');
    expect(packageOf('functions/core/engine.ts')).toBe('functions/core/engine.ts');
  });

  it('reports only what the handler carries beyond its floor, largest first', () => {
    const handler = [
      { input: '@smithy/core', bytes: 100 },
      { input: 'zod', bytes: 30 },
      { input: 'functions/core/engine.ts', bytes: 40 },
    ];
    const floor = [{ input: '@smithy/core', bytes: 100 }];
    expect(extraOver(handler, floor)).toEqual([
      { input: 'functions/core/engine.ts', bytes: 40 },
      { input: 'zod', bytes: 30 },
    ]);
  });
});
