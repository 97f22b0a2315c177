/**
 * `npm run bench`: cold start, API economy, burst throughput and engine overhead, each against
 * its floor measured in the same run on the same machine. Prints one table and writes it, with
 * the raw figures behind it, to `.bench/results.json` (gitignored).
 *
 *   tsx bench/run.ts [--runs N] [--events N] [--rate R] [--read-rate R2] [--concurrency N]
 *                    [--no-baseline] [--overhead-events N] [--org-events N] [--org-accounts N]
 *                    [--org-rate R] [--org-noisy SHARE] [--org-concurrency N]
 *                    [--only cold-start,economy,burst,overhead,org] [--functions id,id]
 *                    [--markdown] [--strict]
 *
 * Fully offline: the emulators listen on loopback, bundles are built locally with esbuild.
 * `--markdown` prints the table as Markdown (for the README). `--strict` exits 1 when a target is
 * missed (for CI); by default the table is the answer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FUNCTION_IDS, type FunctionId, REPO_ROOT } from '../infra/functions.ts';
import { stopCloudWatchLogs } from './aws-emulator.ts';
import { BURST_FUNCTIONS, type BurstResult, burstRows, measureBurst } from './burst.ts';
import { type ColdStartReport, coldStartRows, measureColdStart } from './cold-start.ts';
import { economyRows, measureEconomy } from './economy.ts';
import { DEFAULT_ORG, measureOrg, type OrgBenchOptions, type OrgResult, orgRows } from './org.ts';
import { measureOverhead, overheadRows } from './overhead.ts';
import { formatMarkdown, formatTable, type Row, type Section } from './report.ts';
import { percentile } from './stats.ts';

export interface BenchOptions {
  sections: readonly Section[];
  ids: readonly FunctionId[];
  coldStart: { runs: number };
  burst: {
    events: number;
    rate: number;
    readRate: number;
    concurrency: number;
    /** Also run without the rate limiter: what retries alone do (the handlers as they are today). */
    baseline: boolean;
  };
  overhead: { events: number; warmup: number };
  /** Organization: many accounts and regions, per-account-region quotas (bench/org.ts). */
  org: OrgBenchOptions;
  /** Where results.json and the bundles go. */
  outDir: string;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  sections: ['cold-start', 'economy', 'burst', 'overhead', 'org'],
  ids: FUNCTION_IDS,
  coldStart: { runs: 15 },
  // 1,000 events at 50 writes/s: a 20 s floor, so each burst run stays well under a minute.
  // Reads at 2x: every applied event reads twice (state, verify) per write, so both quotas bind alike.
  burst: { events: 1000, rate: 50, readRate: 100, concurrency: 25, baseline: true },
  overhead: { events: 10_000, warmup: 500 },
  org: DEFAULT_ORG,
  outDir: join(REPO_ROOT, '.bench'),
};

export interface BenchResults {
  machine: { node: string; platform: string; cpus: number; cpu: string };
  startedAt: string;
  durationMs: number;
  options: BenchOptions;
  rows: Row[];
  coldStart?: ColdStartReport;
  economy?: Awaited<ReturnType<typeof measureEconomy>>;
  burst?: BurstResult[];
  org?: OrgResult;
  overhead?: {
    events: number;
    warmup: number;
    outcomes: Record<string, number>;
    overheadMs: { p50: number; p90: number; p99: number; max: number };
    apiMs: { p50: number; p99: number };
  };
}

export async function runBench(
  options: BenchOptions,
  progress: (line: string) => void = () => {},
): Promise<BenchResults> {
  const started = Date.now();
  const results: BenchResults = {
    machine: {
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
    },
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    options,
    rows: [],
  };
  const has = (s: Section) => options.sections.includes(s);
  try {
    // Cold start first, while nothing else in this process competes for the CPU.
    if (has('cold-start')) {
      progress(`cold start: bundling and importing ${options.ids.length} functions and their floors…`);
      results.coldStart = await measureColdStart({
        runs: options.coldStart.runs,
        outdir: join(options.outDir, 'bundles'),
        ids: options.ids,
      });
      results.rows.push(...coldStartRows(results.coldStart));
    }
    if (has('overhead')) {
      progress(`engine overhead: ${options.overhead.events} events…`);
      const o = await measureOverhead(options.overhead);
      results.overhead = {
        events: o.events,
        warmup: o.warmup,
        outcomes: o.outcomes,
        overheadMs: {
          p50: percentile(o.overheadMs, 50),
          p90: percentile(o.overheadMs, 90),
          p99: percentile(o.overheadMs, 99),
          max: percentile(o.overheadMs, 100),
        },
        apiMs: { p50: percentile(o.apiMs, 50), p99: percentile(o.apiMs, 99) },
      };
      results.rows.push(...overheadRows(o));
    }
    if (has('economy')) {
      progress('API economy: every outcome of every function against its emulator…');
      results.economy = await measureEconomy(options.ids);
      results.rows.push(...economyRows(results.economy));
    }
    if (has('burst')) {
      results.burst = [];
      const { baseline, ...shape } = options.burst;
      for (const id of BURST_FUNCTIONS.filter((f) => options.ids.includes(f))) {
        for (const limiter of baseline ? (['none', 'adaptive'] as const) : (['adaptive'] as const)) {
          progress(`burst: ${id}, ${shape.events} events, limiter ${limiter}…`);
          results.burst.push(await measureBurst(id, { ...shape, limiter }));
        }
      }
      results.rows.push(...burstRows(results.burst));
    }
    if (has('org')) {
      const o = options.org;
      progress(`organization: ${o.events} events, ${o.accounts} accounts × ${o.regions.length} regions…`);
      results.org = await measureOrg(o);
      results.rows.push(...orgRows(results.org));
    }
  } finally {
    await stopCloudWatchLogs();
  }
  results.durationMs = Date.now() - started;
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

/** For each function: what its bundle reads at import beyond its floor, by package (esbuild metafile). */
export function contributorsReport(report: ColdStartReport, top = 6): string {
  const lines: string[] = [];
  for (const f of report.functions) {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const extra = f.extra.slice(0, top).map((c) => `    ${kb(c.bytes).padStart(10)}  ${c.input}`);
    const total = f.extra.reduce((sum, c) => sum + c.bytes, 0);
    lines.push(`  ${f.id} carries ${kb(total)} beyond ${f.floor}; largest:`, ...extra);
  }
  return lines.join('\n');
}

function parseOptions(argv: string[]): { options: BenchOptions; strict: boolean; markdown: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      events: { type: 'string' },
      rate: { type: 'string' },
      'read-rate': { type: 'string' },
      concurrency: { type: 'string' },
      'no-baseline': { type: 'boolean' },
      'overhead-events': { type: 'string' },
      'org-events': { type: 'string' },
      'org-accounts': { type: 'string' },
      'org-rate': { type: 'string' },
      'org-noisy': { type: 'string' },
      'org-concurrency': { type: 'string' },
      only: { type: 'string' },
      functions: { type: 'string' },
      strict: { type: 'boolean' },
      markdown: { type: 'boolean' },
    },
    strict: true,
  });
  const int = (value: string | undefined, fallback: number, name: string, min = 1): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}`);
    return n;
  };
  const share = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`--${name}: expected a number from 0 to 1`);
    return n;
  };
  const d = DEFAULT_OPTIONS;
  const sections = (values.only?.split(',') ?? d.sections) as Section[];
  for (const s of sections)
    if (!d.sections.includes(s)) throw new Error(`--only: unknown section ${JSON.stringify(s)}`);
  // A subset of functions (e.g. `--only cold-start --functions alicloud.logstore-encryption`): a
  // short run while working on one bundle, on a machine others share.
  const ids = (values.functions?.split(',') ?? d.ids) as FunctionId[];
  for (const id of ids)
    if (!d.ids.includes(id)) throw new Error(`--functions: unknown function ${JSON.stringify(id)}`);
  return {
    strict: values.strict ?? false,
    markdown: values.markdown ?? false,
    options: {
      ...d,
      sections,
      ids,
      coldStart: { runs: int(values.runs, d.coldStart.runs, 'runs') },
      burst: {
        events: int(values.events, d.burst.events, 'events'),
        rate: int(values.rate, d.burst.rate, 'rate'),
        readRate: int(values['read-rate'], d.burst.readRate, 'read-rate'),
        concurrency: int(values.concurrency, d.burst.concurrency, 'concurrency'),
        baseline: !(values['no-baseline'] ?? false),
      },
      overhead: {
        ...d.overhead,
        events: int(values['overhead-events'], d.overhead.events, 'overhead-events'),
      },
      // A scaled-down organization run (e.g. --org-events 1000 --org-accounts 10) keeps the shape
      // of the default one with a shorter floor, for iterating on the limiter.
      org: {
        ...d.org,
        events: int(values['org-events'], d.org.events, 'org-events'),
        accounts: int(values['org-accounts'], d.org.accounts, 'org-accounts'),
        rate: int(values['org-rate'], d.org.rate, 'org-rate'),
        concurrency: int(values['org-concurrency'], d.org.concurrency, 'org-concurrency'),
        noisyShare: share(values['org-noisy'], d.org.noisyShare, 'org-noisy'),
      },
    },
  };
}

async function main(): Promise<void> {
  const { options, strict, markdown } = parseOptions(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const results = await runBench(options, log);
  process.stdout.write(`${(markdown ? formatMarkdown : formatTable)(results.rows)}\n`);
  if (results.coldStart)
    process.stdout.write(
      `\nRead at import beyond the floor (minified bytes; chunks loaded on first use not counted):\n${contributorsReport(results.coldStart)}\n`,
    );
  const failed = results.rows.filter((r) => r.pass === false);
  process.stdout.write(
    `\n${failed.length === 0 ? 'All targets met' : `${failed.length} target(s) missed`} · ${(results.durationMs / 1000).toFixed(0)} s · ${results.machine.cpus} × ${results.machine.cpu} · Node ${results.machine.node} · ${join('.bench', 'results.json')}\n`,
  );
  if (strict && failed.length > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) await main();
