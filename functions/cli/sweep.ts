/**
 * `atrest sweep <function-id> [--org | --account ID…] [--region R]…`: every existing resource of
 * that kind, in each account and region, through the same engine and idempotency as live events
 * (backfill, and the answer to any missed event). An org-wide run records each finished
 * account-region in a checkpoint (checkpoint.ts), resumes after an interruption without redoing
 * them, and ends with totals per account and region on stderr. Paced by a token
 * bucket (`--rate`, remediator calls per second) and bounded concurrency, so it never starves the
 * deployed functions of the API quota they share. NDJSON per resource on stdout; progress and the
 * summary on stderr.
 */

import { FileIdempotencyStore, type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import { OUTCOMES, type Outcome, type OutcomeKind } from '#core/outcome';
import { sweepRegion, TokenBucket } from '#core/sweep';
import type { Config } from '../config.ts';
import { Checkpoint, DEFAULT_CHECKPOINT_DIR, unitKey } from './checkpoint.ts';
import { AccountAccessError } from './org.ts';
import { Progress, type ProgressSink } from './progress.ts';
import { type AnyRemediator, isFunctionId, Registry } from './registry.ts';
import { defaultAccess, defaultListAccounts, type OrgDeps, planUnits } from './units.ts';
import { UsageError } from './usage.ts';

/** Remediator calls per second when `--rate` is not given: well under every API's default quota. */
export const DEFAULT_RATE = 5;
const MAX_RATE = 10_000;

export interface SweepOptions extends OrgDeps {
  config: Config;
  regions: string[];
  /** `--org`: every account of the organization. */
  org?: boolean;
  /** `--account ID`…. */
  accounts?: string[];
  dryRun: boolean;
  concurrency: number;
  /** Remediator calls (reads and writes) per second. Default DEFAULT_RATE. */
  rate?: number;
  env: Record<string, string | undefined>;
  emit: (outcome: Outcome) => void;
  log: (line: string) => void;
  /** Raw stderr writes when stderr is a terminal (one updating progress line). */
  progressRaw?: (text: string) => void;
  store?: IdempotencyStore;
  registry?: Registry;
  /** Clock and sleep for the pacing (tests). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What the checkpoint keeps of a finished account-region: enough for the totals. */
interface UnitTotals {
  counts: Partial<Record<OutcomeKind, number>>;
  writes: number;
}

export interface SweepRun {
  /** The outcomes of this run (not those of account-regions finished by an interrupted earlier run). */
  outcomes: Outcome[];
  /** Per account and region, this run's and the resumed ones'. */
  totals: Array<{ account: string; region: string } & UnitTotals>;
}

export async function sweep(id: string, options: SweepOptions): Promise<Outcome[]> {
  return (await sweepRun(id, options)).outcomes;
}

async function sweepRun(id: string, options: SweepOptions): Promise<SweepRun> {
  if (!isFunctionId(id)) throw new UsageError(`unknown function id "${id}"`);
  const rate = options.rate ?? DEFAULT_RATE;
  if (!(rate > 0 && rate <= MAX_RATE))
    throw new UsageError(`--rate must be a number above 0, at most ${MAX_RATE}`);
  const registry = options.registry ?? new Registry({ env: options.env });
  const access = options.access ?? defaultAccess(registry, options.env, options.config);
  const listAccounts = options.listAccounts ?? defaultListAccounts(options.env);
  const flags = { org: options.org ?? false, accounts: options.accounts ?? [], regions: options.regions };
  const units = await planUnits([id], flags, options.config, options.env, { access, listAccounts });
  const own = await registry.get(id);
  if (!own.list) throw new UsageError(`${id} cannot list its resources`);
  const store =
    options.store ??
    (options.env.ATREST_IDEMPOTENCY_FILE
      ? new FileIdempotencyStore(options.env.ATREST_IDEMPOTENCY_FILE)
      : new MemoryIdempotencyStore());
  // One bucket for the whole run: several regions may share a global quota.
  const bucket = new TokenBucket(rate, {
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  const orgWide = flags.org || flags.accounts.length > 0;
  const checkpoint = orgWide
    ? Checkpoint.open<UnitTotals>(options.env.ATREST_CHECKPOINT_DIR || DEFAULT_CHECKPOINT_DIR, 'sweep', {
        units,
        dryRun: options.dryRun,
        config: options.config,
      })
    : undefined;
  if (checkpoint && checkpoint.resumed > 0)
    options.log(
      `atrest: resuming: ${checkpoint.resumed} of ${units.length} account-region(s) finished by an earlier run are skipped`,
    );

  const outcomes: Outcome[] = [];
  const totals: SweepRun['totals'] = [];
  let complete = true;
  for (const [index, unit] of units.entries()) {
    const { account, region } = unit;
    const where = orgWide ? `${account} ${region} (${index + 1}/${units.length})` : region;
    const key = unitKey(id, account, region);
    const earlier = checkpoint?.done(key);
    if (earlier) {
      totals.push({ account, region, ...earlier });
      continue;
    }
    const sink: ProgressSink = {
      line: options.log,
      ...(options.progressRaw ? { raw: options.progressRaw } : {}),
      ...(options.now ? { now: options.now } : {}),
    };
    const label = `sweep ${id} ${where}`;
    const progress = new Progress(label, sink);
    const unitOutcomes: Outcome[] = [];
    const record = (outcome: Outcome) => {
      outcomes.push(outcome);
      unitOutcomes.push(outcome);
      options.emit(outcome);
      progress.outcome(outcome.outcome, outcome.attempts);
    };
    let remediator: AnyRemediator;
    try {
      remediator = await access.remediator(id, account, region);
    } catch (thrown) {
      const e = AccountAccessError.from(`account ${account}`, thrown);
      record({
        function: id,
        eventId: `sweep:${account}/${region}`,
        resource: '',
        region,
        account,
        outcome: 'failed',
        attempts: 0,
        durationMs: 0,
        dryRun: options.dryRun,
        error: { code: e.code, message: e.message, ...(e.requestId ? { requestId: e.requestId } : {}) },
      });
      progress.finish();
      complete = false;
      totals.push({ account, region, ...unitTotals(unitOutcomes) });
      continue;
    }
    progress.note(
      `atrest: sweeping ${id} in ${where} (at most ${rate} calls/s, ${options.concurrency} at once)`,
    );
    const result = await sweepRegion(remediator, region, {
      config: options.config,
      store,
      dryRun: options.dryRun,
      concurrency: options.concurrency,
      bucket,
      ...(options.sleep ? { engine: { sleep: options.sleep } } : {}),
      onListed: (n) => progress.listedCount(n),
      onOutcome: record,
    });
    progress.finish();
    const done = unitTotals(unitOutcomes);
    totals.push({ account, region, ...done });
    if (result.complete) checkpoint?.record(key, done);
    else {
      complete = false;
      options.log(`atrest: sweep of ${id} in ${where} did not finish (see the failed line)`);
    }
  }
  if (complete) checkpoint?.complete();
  if (orgWide) for (const line of totalsLines(totals)) options.log(line);
  return { outcomes, totals };
}

function unitTotals(outcomes: readonly Outcome[]): UnitTotals {
  const counts: UnitTotals['counts'] = {};
  for (const o of outcomes) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
  return { counts, writes: outcomes.reduce((sum, o) => sum + o.attempts, 0) };
}

/** `atrest: totals <account|region> <id>: 12 applied, 30 compliant; 12 write(s)` per account, per region, and overall. */
function totalsLines(totals: SweepRun['totals']): string[] {
  const merge = (rows: readonly UnitTotals[]): UnitTotals => {
    const counts: UnitTotals['counts'] = {};
    let writes = 0;
    for (const row of rows) {
      writes += row.writes;
      for (const [k, v] of Object.entries(row.counts) as Array<[OutcomeKind, number]>)
        counts[k] = (counts[k] ?? 0) + v;
    }
    return { counts, writes };
  };
  const text = (t: UnitTotals) => {
    const parts = OUTCOMES.filter((k) => (t.counts[k] ?? 0) > 0).map((k) => `${t.counts[k]} ${k}`);
    return `${parts.length ? parts.join(', ') : 'nothing'}; ${t.writes} write(s)`;
  };
  const group = (by: 'account' | 'region') => {
    const keys = [...new Set(totals.map((t) => t[by]))].sort();
    return keys.map(
      (k) => `atrest: totals ${by} ${k || 'own'}: ${text(merge(totals.filter((t) => t[by] === k)))}`,
    );
  };
  return [
    ...group('account'),
    ...group('region'),
    `atrest: totals: ${totals.length} account-region(s): ${text(merge(totals))}`,
  ];
}
