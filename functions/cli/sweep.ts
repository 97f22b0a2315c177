/**
 * `atrest sweep <function-id>`: every existing resource of that kind through the same engine and
 * idempotency as live events (backfill, and the answer to any missed event). Paced by a token
 * bucket (`--rate`, remediator calls per second) and bounded concurrency, so it never starves the
 * deployed functions of the API quota they share. NDJSON per resource on stdout; progress and the
 * summary on stderr.
 */
import type { Config } from '#core/config';
import { FileIdempotencyStore, type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { sweepRegion, TokenBucket } from '#core/sweep';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import { CliAccounts } from './accounts.ts';
import { Progress, type ProgressSink } from './progress.ts';
import { isFunctionId, Registry } from './registry.ts';
import { UsageError } from './usage.ts';

/** Remediator calls per second when `--rate` is not given: well under every API's default quota. */
export const DEFAULT_RATE = 5;
export const MAX_RATE = 10_000;

export interface SweepOptions {
  config: Config;
  regions: string[];
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
  accounts?: CliAccounts;
  /** Clock and sleep for the pacing (tests). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export async function sweep(id: string, options: SweepOptions): Promise<Outcome[]> {
  if (!isFunctionId(id)) throw new UsageError(`unknown function id "${id}"`);
  const rate = options.rate ?? DEFAULT_RATE;
  if (!(rate > 0 && rate <= MAX_RATE))
    throw new UsageError(`--rate must be a number above 0, at most ${MAX_RATE}`);
  const regions = options.regions.length > 0 ? options.regions : defaultRegions(id, options);
  if (regions.length === 0)
    throw new UsageError('name at least one --region (no default region in the environment)');
  const pattern = id.startsWith('aws.') ? AWS_REGION : ALICLOUD_REGION;
  const bad = regions.filter((r) => !pattern.test(r));
  if (bad.length > 0) throw new UsageError(`not a region of ${id.split('.')[0]}: ${bad.join(', ')}`);
  const registry = options.registry ?? new Registry({ env: options.env });
  // The listing is the caller's own account; excluded accounts still end `excluded`.
  const accounts = options.accounts ?? new CliAccounts({ env: options.env, registry });
  // Alibaba Cloud listings name no owner: the caller's own account (GetCallerIdentity) is theirs.
  const base = id.startsWith('alicloud.')
    ? await registry.create(id, {
        account: options.env.FC_ACCOUNT_ID ?? (await accounts.ownAccount('alicloud')).account,
      })
    : await registry.get(id);
  const remediator = accounts.wrap(base, options.config);
  if (!remediator.list) throw new UsageError(`${id} cannot list its resources`);
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

  const outcomes: Outcome[] = [];
  for (const region of [...new Set(regions)]) {
    const sink: ProgressSink = {
      line: options.log,
      ...(options.progressRaw ? { raw: options.progressRaw } : {}),
      ...(options.now ? { now: options.now } : {}),
    };
    const progress = new Progress(`sweep ${id} ${region}`, sink);
    progress.note(
      `atrest: sweeping ${id} in ${region} (at most ${rate} calls/s, ${options.concurrency} at once)`,
    );
    const result = await sweepRegion(remediator, region, {
      config: options.config,
      store,
      dryRun: options.dryRun,
      concurrency: options.concurrency,
      bucket,
      ...(options.sleep ? { engine: { sleep: options.sleep } } : {}),
      onListed: (n) => progress.listedCount(n),
      onOutcome: (outcome) => {
        outcomes.push(outcome);
        options.emit(outcome);
        progress.outcome(outcome.outcome, outcome.attempts);
      },
    });
    progress.finish();
    if (!result.complete)
      options.log(`atrest: sweep of ${id} in ${region} did not finish (see the failed line)`);
  }
  return outcomes;
}

function defaultRegions(id: string, options: SweepOptions): string[] {
  if (id === 'alicloud.disk-default-kms') {
    // The regions the timer checks: the config's own list, else the regions that have a key.
    const section = options.config.alicloud?.diskDefaultKms;
    const configured = section?.regions ?? Object.keys(section?.byRegion ?? {});
    if (configured.length > 0) return configured;
  }
  const region = id.startsWith('aws.')
    ? (options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION)
    : options.env.ALIBABA_CLOUD_REGION_ID;
  return region ? [region] : [];
}
