/**
 * `atrest report [function-id]… [--org | --account ID…] [--region R]… [--format table|ndjson|md|csv]`
 * (CONTRACT.md section 8): where do we stand? Reads, never writes. For every resource each
 * configured function lists (its sweep listing), one line
 * `{"function","account","region","resource","status","current","desired"}` with `status`
 * compliant | noncompliant | excluded | error (then `error.code`). The decision is the function's
 * own (`desire`, `read`, `evaluate`), exactly what the live function would decide, minus the write.
 *
 * Reads are paced like a sweep (`--rate`, a token bucket) so a report never starves the deployed
 * functions of API quota. Progress goes to stderr. An org-wide run resumes after an interruption
 * (checkpoint.ts): finished (function, account, region) units are not read again, their lines are
 * printed from the checkpoint. Exit 0 when nothing is noncompliant or error, 1 otherwise (a CI
 * gate), 2 for usage.
 */

import { unexpected } from '#core/engine';
import { GoneError, NotReadyError, RemediationError } from '#core/errors';
import type { FunctionId } from '#core/outcome';
import type { Target } from '#core/remediator';
import { backoffDelay, DEFAULT_RETRY } from '#core/retry';
import { metered, TokenBucket } from '#core/sweep';
import type { Config } from '../config.ts';
import { configSection, FUNCTION_IDS } from '../manifests.ts';
import { Checkpoint, DEFAULT_CHECKPOINT_DIR, unitKey } from './checkpoint.ts';
import { AccountAccessError, type ScopeFlags, SELF } from './org.ts';
import { type AnyRemediator, isFunctionId, Registry } from './registry.ts';
import { defaultAccess, defaultListAccounts, type OrgDeps, planUnits, type Unit } from './units.ts';
import { UsageError } from './usage.ts';

const REPORT_STATUSES = ['compliant', 'noncompliant', 'excluded', 'error'] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];
export const REPORT_FORMATS = ['table', 'ndjson', 'md', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportLine {
  function: FunctionId;
  account: string;
  region: string;
  /** ARN or id, as in outcome lines; empty for a line about a whole account-region (listing failed). */
  resource: string;
  status: ReportStatus;
  /** The encryption found, as `key=value` pairs (`none` when there is none). */
  current: string;
  /** What the config wants (the function's printable desire), empty when excluded. */
  desired: string;
  /** Why: excluded, not ready, cannot be fixed by writing. */
  reason?: string;
  error?: { code: string; message: string; requestId?: string };
}

export interface ReportOptions extends OrgDeps {
  config: Config;
  flags: ScopeFlags;
  env: Record<string, string | undefined>;
  /** Reads per second across the run. Default 5. */
  rate?: number;
  /** Resources read at once. Default 4. */
  concurrency?: number;
  /** Each line as soon as it is known (NDJSON streams; the other formats print at the end). */
  emit?: (line: ReportLine) => void;
  log: (line: string) => void;
  registry?: Registry;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Every line of the report, in the order of the units (functions, accounts, regions). */
export async function report(ids: readonly string[], options: ReportOptions): Promise<ReportLine[]> {
  const unknown = ids.filter((id) => !isFunctionId(id));
  if (unknown.length > 0)
    throw new UsageError(`unknown function id ${unknown.map((u) => `"${u}"`).join(', ')}`);
  const configured = FUNCTION_IDS.filter((id) => isConfigured(id, options.config));
  const chosen = ids.length > 0 ? [...new Set(ids as FunctionId[])] : configured;
  const off = chosen.filter((id) => !configured.includes(id));
  if (off.length > 0) throw new UsageError(`not configured (no config section): ${off.join(', ')}`);
  if (chosen.length === 0) throw new UsageError('no function is configured: nothing to report');
  const rate = options.rate ?? 5;
  if (!(rate > 0 && rate <= 10_000)) throw new UsageError('--rate must be a number above 0, at most 10000');

  const registry = options.registry ?? new Registry({ env: options.env });
  const access = options.access ?? defaultAccess(registry, options.env, options.config);
  const listAccounts = options.listAccounts ?? defaultListAccounts(options.env);
  const units = await planUnits(chosen, options.flags, options.config, options.env, { access, listAccounts });
  const orgWide = options.flags.org || options.flags.accounts.length > 0;
  const checkpoint = orgWide
    ? Checkpoint.open<ReportLine[]>(options.env.ATREST_CHECKPOINT_DIR || DEFAULT_CHECKPOINT_DIR, 'report', {
        units,
        config: options.config,
      })
    : undefined;
  if (checkpoint && checkpoint.resumed > 0)
    options.log(`atrest: resuming: ${checkpoint.resumed} of ${units.length} account-region(s) already read`);
  const bucket = new TokenBucket(rate, {
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });

  const all: ReportLine[] = [];
  let complete = true;
  for (const [index, unit] of units.entries()) {
    const key = unitKey(unit.fn, unit.account, unit.region);
    const where = `${unit.fn} ${unit.account || 'own account'} ${unit.region}`;
    const earlier = checkpoint?.done(key);
    let lines: ReportLine[];
    if (earlier) {
      lines = earlier;
      options.log(
        `atrest: report ${index + 1}/${units.length} ${where}: ${lines.length} resource(s) (read earlier)`,
      );
    } else {
      const result = await reportUnit(unit, { ...options, access, bucket });
      lines = result.lines;
      if (result.complete) checkpoint?.record(key, lines);
      else complete = false;
      options.log(`atrest: report ${index + 1}/${units.length} ${where}: ${countText(lines)}`);
    }
    for (const line of lines) {
      all.push(line);
      options.emit?.(line);
    }
  }
  if (complete) checkpoint?.complete();
  return all;
}

const isConfigured = (id: FunctionId, config: Config): boolean => configSection(id, config) !== undefined;

interface UnitDeps extends ReportOptions {
  access: NonNullable<ReportOptions['access']>;
  bucket: TokenBucket;
}

/** One (function, account, region): list, then assess each resource (bounded concurrency). */
async function reportUnit(unit: Unit, deps: UnitDeps): Promise<{ lines: ReportLine[]; complete: boolean }> {
  const failure = (error: { code: string; message: string; requestId?: string }): ReportLine => ({
    function: unit.fn,
    account: unit.account,
    region: unit.region,
    resource: '',
    status: 'error',
    current: '',
    desired: '',
    error,
  });
  let remediator: AnyRemediator;
  try {
    remediator = await deps.access.remediator(unit.fn, unit.account, unit.region);
  } catch (thrown) {
    const e = AccountAccessError.from(`account ${unit.account}`, thrown);
    return { lines: [failure(errorOf(e))], complete: false };
  }
  if (!remediator.list)
    return { lines: [failure({ code: 'NotListable', message: `${unit.fn} cannot list` })], complete: false };
  const r = metered(remediator, deps.bucket);
  const lines: ReportLine[] = [];
  const seen = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // A listing that fails with a retryable error (throttled, 5xx) is restarted, skipping what it yielded.
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const target of remediator.list.call(
        remediator,
        unit.region,
        deps.config,
      ) as AsyncIterable<Target>) {
        if (seen.has(target.resource)) continue;
        seen.add(target.resource);
        const job = assess(r, target, unit, deps).then((line) => {
          if (line) lines.push(line);
        });
        inFlight.add(job);
        void job.finally(() => inFlight.delete(job));
        if (inFlight.size >= concurrency) await Promise.race(inFlight);
      }
      break;
    } catch (thrown) {
      const e = classify(remediator, thrown);
      if (e.retryable && attempt < 3) {
        await sleep(backoffDelay(attempt, DEFAULT_RETRY, (deps.random ?? Math.random)()));
        await deps.bucket.take();
        continue;
      }
      await Promise.all(inFlight);
      lines.push(
        failure({ ...errorOf(e), message: `listing failed after ${seen.size} resource(s): ${e.message}` }),
      );
      return { lines: sortLines(lines), complete: false };
    }
  }
  await Promise.all(inFlight);
  return { lines: sortLines(lines), complete: true };
}

/** What the function would decide for one resource, without writing. Never throws. */
async function assess(
  r: AnyRemediator,
  target: Target,
  unit: Unit,
  deps: Pick<ReportOptions, 'config' | 'sleep' | 'random'>,
): Promise<ReportLine | undefined> {
  const base = {
    function: unit.fn,
    account: unit.account !== SELF ? unit.account : target.account,
    region: target.region,
    resource: target.resource,
  };
  let desire: ReturnType<AnyRemediator['desire']>;
  try {
    desire = r.desire(target, deps.config);
  } catch (thrown) {
    return { ...base, status: 'error', current: '', desired: '', error: errorOf(classify(r, thrown)) };
  }
  if (desire.kind === 'off') return undefined;
  if (desire.kind === 'excluded')
    return { ...base, status: 'excluded', current: '', desired: '', reason: desire.reason };
  const desired = desire.key;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      const observed = await r.read(target);
      if (observed.kind === 'gone') return undefined;
      if (observed.kind === 'notReady')
        return { ...base, status: 'noncompliant', current: 'not ready', desired, reason: observed.reason };
      const current = describeState(observed.state);
      const verdict = r.evaluate(observed.state, desire.desired, target);
      switch (verdict.kind) {
        case 'compliant':
          return { ...base, status: 'compliant', current, desired };
        case 'write':
          return { ...base, status: 'noncompliant', current, desired };
        case 'excluded':
          return { ...base, status: 'excluded', current, desired, reason: verdict.reason };
        case 'blocked':
          return {
            ...base,
            status: 'noncompliant',
            current,
            desired,
            reason: `${verdict.code}: ${verdict.message}`,
          };
      }
    } catch (thrown) {
      const error = classify(r, thrown);
      if (error instanceof GoneError) return undefined;
      if (error instanceof NotReadyError)
        return {
          ...base,
          status: 'noncompliant',
          current: 'not ready',
          desired,
          reason: `${error.code}: ${error.message}`,
        };
      if (error.retryable && attempt + 1 < DEFAULT_RETRY.maxAttempts) {
        await sleep(backoffDelay(attempt, DEFAULT_RETRY, (deps.random ?? Math.random)()));
        continue;
      }
      return { ...base, status: 'error', current: '', desired, error: errorOf(error) };
    }
  }
}

function classify(r: AnyRemediator, thrown: unknown): RemediationError {
  try {
    const e = r.classify(thrown);
    return e instanceof RemediationError ? e : unexpected(thrown);
  } catch {
    return unexpected(thrown);
  }
}

const errorOf = (e: { code: string; message: string; requestId?: string | undefined }) => ({
  code: e.code,
  message: e.message,
  ...(e.requestId !== undefined ? { requestId: e.requestId } : {}),
});

/** A state as `key=value` pairs, nested keys dotted, absent values left out; `none` when empty. */
function describeState(state: unknown): string {
  const parts: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value === undefined || value === null) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        walk(v, path ? `${path}.${k}` : k);
      return;
    }
    parts.push(`${path || 'value'}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  };
  walk(state, '');
  return parts.length > 0 ? parts.join(' ') : 'none';
}

const sortLines = (lines: ReportLine[]): ReportLine[] =>
  lines.sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));

function countText(lines: readonly ReportLine[]): string {
  const counts = countStatuses(lines);
  const parts = REPORT_STATUSES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return `${lines.length} resource(s)${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

// ------------------------------------------------------------------------------------------------
// totals and formats
// ------------------------------------------------------------------------------------------------

export type Counts = Record<ReportStatus, number>;

function countStatuses(lines: readonly ReportLine[]): Counts {
  const counts: Counts = { compliant: 0, noncompliant: 0, excluded: 0, error: 0 };
  for (const line of lines) counts[line.status] += 1;
  return counts;
}

export interface Totals {
  function: Array<[string, Counts]>;
  account: Array<[string, Counts]>;
  region: Array<[string, Counts]>;
  all: Counts;
}

export function totals(lines: readonly ReportLine[]): Totals {
  const by = (pick: (l: ReportLine) => string): Array<[string, Counts]> => {
    const groups = new Map<string, ReportLine[]>();
    for (const line of lines) {
      const key = pick(line) || '(unknown)';
      groups.set(key, [...(groups.get(key) ?? []), line]);
    }
    return [...groups]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, countStatuses(v)]);
  };
  return {
    function: by((l) => l.function),
    account: by((l) => l.account),
    region: by((l) => l.region),
    all: countStatuses(lines),
  };
}

/** Exit status: 1 when anything is noncompliant or error. */
export const reportExitCode = (lines: readonly ReportLine[]): number =>
  lines.some((l) => l.status === 'noncompliant' || l.status === 'error') ? 1 : 0;

const COLUMNS = [
  'function',
  'account',
  'region',
  'status',
  'resource',
  'current',
  'desired',
  'note',
] as const;

const note = (l: ReportLine): string => (l.error ? `${l.error.code}: ${l.error.message}` : (l.reason ?? ''));
const cells = (l: ReportLine): string[] => [
  l.function,
  l.account,
  l.region,
  l.status,
  l.resource,
  l.current,
  l.desired,
  note(l),
];

function pad(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function totalsRows(title: string, groups: Array<[string, Counts]>): string[][] {
  return [
    [title, ...REPORT_STATUSES, 'total'],
    ...groups.map(([k, c]) => [k, ...REPORT_STATUSES.map((s) => String(c[s])), String(sum(c))]),
  ];
}

const sum = (c: Counts): number => REPORT_STATUSES.reduce((n, s) => n + c[s], 0);

/** The whole report in a format, as lines of text (ndjson: one JSON object per line, no totals). */
export function format(lines: readonly ReportLine[], fmt: ReportFormat): string[] {
  switch (fmt) {
    case 'ndjson':
      return lines.map((l) => JSON.stringify(l));
    case 'csv':
      return [COLUMNS.join(','), ...lines.map((l) => cells(l).map(csvCell).join(','))];
    case 'table': {
      const t = totals(lines);
      return [
        ...pad([COLUMNS.map((c) => c.toUpperCase()), ...lines.map(cells)]),
        '',
        ...pad(totalsRows('FUNCTION', t.function)),
        '',
        ...pad(totalsRows('ACCOUNT', t.account)),
        '',
        ...pad(totalsRows('REGION', t.region)),
        '',
        `total: ${sum(t.all)} resource(s): ${REPORT_STATUSES.map((s) => `${t.all[s]} ${s}`).join(', ')}`,
      ];
    }
    case 'md': {
      const t = totals(lines);
      const table = (rows: string[][]) => {
        const [head = [], ...body] = rows;
        return [
          `| ${head.map(mdCell).join(' | ')} |`,
          `| ${head.map(() => '---').join(' | ')} |`,
          ...body.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
        ];
      };
      return [
        '# atrest report',
        '',
        ...table([[...COLUMNS], ...lines.map(cells)]),
        '',
        '## Totals by function',
        '',
        ...table(totalsRows('function', t.function)),
        '',
        '## Totals by account',
        '',
        ...table(totalsRows('account', t.account)),
        '',
        '## Totals by region',
        '',
        ...table(totalsRows('region', t.region)),
        '',
        `**Total:** ${sum(t.all)} resource(s): ${REPORT_STATUSES.map((s) => `${t.all[s]} ${s}`).join(', ')}`,
      ];
    }
  }
}

/** RFC 4180: quote a cell with a comma, quote or line break; a leading =+-@ is prefixed (spreadsheet formulas). */
function csvCell(value: string): string {
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const mdCell = (value: string): string =>
  value.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('\n', ' ');

/** One stderr line: `atrest: report: 40 resource(s): 30 compliant, 8 noncompliant, 2 excluded, 0 error in 1.2 s`. */
export function reportSummary(lines: readonly ReportLine[], elapsedMs: number): string {
  const c = countStatuses(lines);
  return `atrest: report: ${lines.length} resource(s): ${REPORT_STATUSES.map((s) => `${c[s]} ${s}`).join(', ')} in ${(elapsedMs / 1000).toFixed(1)} s`;
}
