/**
 * `atrest sweep <function-id>`: every existing resource of that kind through the same engine and
 * idempotency as live events (backfill, and the answer to any missed event). Bounded concurrency
 * keeps it from starving live remediations of API quota.
 */
import type { Config } from '#core/config';
import { remediateTarget } from '#core/engine';
import { FileIdempotencyStore, type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import type { Target } from '#core/remediator';
import { isFunctionId, Registry } from './registry.ts';
import { UsageError } from './usage.ts';

export interface SweepOptions {
  config: Config;
  regions: string[];
  dryRun: boolean;
  concurrency: number;
  env: Record<string, string | undefined>;
  emit: (outcome: Outcome) => void;
  log: (line: string) => void;
  store?: IdempotencyStore;
  registry?: Registry;
}

export async function sweep(id: string, options: SweepOptions): Promise<Outcome[]> {
  if (!isFunctionId(id)) throw new UsageError(`unknown function id "${id}"`);
  const registry = options.registry ?? new Registry({ env: options.env });
  const remediator = await registry.get(id);
  if (!remediator.list) throw new UsageError(`${id} cannot list its resources`);
  const regions = options.regions.length > 0 ? options.regions : defaultRegions(id, options);
  if (regions.length === 0)
    throw new UsageError('name at least one --region (no default region in the environment)');
  const store =
    options.store ??
    (options.env.ATREST_IDEMPOTENCY_FILE
      ? new FileIdempotencyStore(options.env.ATREST_IDEMPOTENCY_FILE)
      : new MemoryIdempotencyStore());
  const outcomes: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  let seen = 0;
  for (const region of regions) {
    options.log(`atrest: sweeping ${id} in ${region}`);
    for await (const target of remediator.list(region, options.config) as AsyncIterable<Target>) {
      seen += 1;
      const job = remediateTarget(remediator, target, {
        config: options.config,
        store,
        dryRun: options.dryRun,
      }).then((outcome) => {
        outcomes.push(outcome);
        options.emit(outcome);
        if (outcomes.length % 50 === 0) options.log(`atrest: ${outcomes.length}/${seen} resources done`);
      });
      inFlight.add(job);
      void job.finally(() => inFlight.delete(job));
      if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    }
  }
  await Promise.all(inFlight);
  return outcomes;
}

function defaultRegions(id: string, options: SweepOptions): string[] {
  const region = id.startsWith('aws.')
    ? (options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION)
    : options.env.ALIBABA_CLOUD_REGION_ID;
  return region ? [region] : [];
}
