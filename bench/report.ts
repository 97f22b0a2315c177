/**
 * One row per measured figure, printed as one table and written as JSON: what was measured, its
 * value, the floor it is compared with on the same machine in the same run, the ratio, the target
 * and whether it passes. Rows without a target are context (sizes, bare `node -e 0`).
 */

export type Section = 'cold-start' | 'economy' | 'burst' | 'overhead' | 'org';

export interface Row {
  section: Section;
  /** A function id, or what else the row is about (`node -e 0`, `engine`). */
  subject: string;
  metric: string;
  value: number;
  unit: string;
  floor?: number;
  /** value / floor, when there is a floor. */
  ratio?: number;
  /** Human-readable target, e.g. `<= 1.10`, `= 0`. */
  target?: string;
  /** Absent for context rows. */
  pass?: boolean;
}

/** A comparison with an upper bound: `value <= max` (or `ratio <= max` when a floor is given). */
export function atMost(base: Omit<Row, 'ratio' | 'target' | 'pass'>, max: number, digits = 2): Row {
  const measured = base.floor !== undefined ? base.value / base.floor : base.value;
  return {
    ...base,
    ...(base.floor !== undefined ? { ratio: measured } : {}),
    target: `<= ${max.toFixed(digits)}`,
    pass: measured <= max,
  };
}

/** An exact requirement, e.g. lost events `= 0`. */
export function exactly(base: Omit<Row, 'ratio' | 'target' | 'pass'>, expected: number): Row {
  return { ...base, target: `= ${expected}`, pass: base.value === expected };
}

const HEAD = ['section', 'subject', 'metric', 'value', 'floor', 'ratio', 'target', 'pass'] as const;

const num = (value: number | undefined, unit = ''): string => {
  if (value === undefined || Number.isNaN(value)) return '';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 3;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return unit === '' || unit === 'x' ? text : `${text} ${unit}`;
};

/** A fixed-width text table; failing rows are marked so they stand out in a CI log. */
export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [
    r.section,
    r.subject,
    r.metric,
    num(r.value, r.unit),
    num(r.floor, r.unit),
    r.ratio !== undefined ? r.ratio.toFixed(2) : '',
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'pass' : 'FAIL',
  ]);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => (i >= 3 && i <= 5 ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(HEAD), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Markdown version of the same table, for the README. */
export function formatMarkdown(rows: readonly Row[]): string {
  const out = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`];
  for (const r of rows)
    out.push(
      `| ${[
        r.section,
        `\`${r.subject}\``,
        r.metric,
        num(r.value, r.unit),
        num(r.floor, r.unit),
        r.ratio !== undefined ? r.ratio.toFixed(2) : '',
        r.target ?? '',
        r.pass === undefined ? '' : r.pass ? 'pass' : '**FAIL**',
      ].join(' | ')} |`,
    );
  return out.join('\n');
}
