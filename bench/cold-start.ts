/**
 * Cold start, per function: the minified bundle exactly as deployed (infra/bundle.ts, the one
 * bundler) against a floor bundle built with the same esbuild options from bench/floors/*.ts —
 * only the SDK client(s) and commands the function calls. Both are imported in fresh Node
 * processes, interleaved round by round so machine drift hits both alike; the figure is the
 * median import time measured inside the child (`performance.now()` around `import()` /
 * `require()`), with the whole-process wall time and a bare `node -e 0` as context. Sizes count
 * what the import reads (`eager`: the entry and the chunks it imports statically); chunks reached
 * only through `import()` load on first use and are not counted.
 *
 * The same child then calls the handler once, as the platform's first invocation would, with the
 * cloud's "creation failed" sample (FIRST_INVOCATION_EVENT): it is parsed and validated in full and
 * ends `ignored` without an API call, so the figure is what the first event pays on top of import
 * for the work done once per instance on first use (config, event schemas), with no network in it.
 * It does not reach the paths behind `import()` (trail, sweep, STS, re-queue) nor the Tablestore
 * SDK, which the first event that claims an idempotency key loads.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { bundleEntry, bundleFunction, eagerFiles, jsOutputs, splitBuildOptions } from '../infra/bundle.ts';
import { type Cloud, type FunctionId, functionEntry, functionSpec, REPO_ROOT } from '../infra/functions.ts';
import { allDrivers } from '../test/hardening/drivers.ts';
import { atMost, type Row } from './report.ts';
import { median } from './stats.ts';

/** Target from DESIGN.md "Budgets": our code may add at most 10 % to the floor's import time. */
export const IMPORT_RATIO_TARGET = 1.1;

export type FloorName = 'aws-logs-dynamodb' | 'alicloud-openapi' | 'node-builtins';

export const FLOORS: Record<FloorName, { cloud: Cloud; what: string }> = {
  'aws-logs-dynamodb': {
    cloud: 'aws',
    what: 'CloudWatchLogsClient + DescribeLogGroups/AssociateKmsKey, DynamoDBClient + Get/Put/Update/DeleteItem (the idempotency record)',
  },
  'alicloud-openapi': { cloud: 'alicloud', what: '@alicloud/openapi-client (callApi) only' },
  'node-builtins': {
    cloud: 'alicloud',
    what: 'node:http + node:https + node:crypto only (our own SLS / OSS Tables clients: no SDK)',
  },
};

/**
 * Which floor each function is measured against: its test kit driver says
 * (test/functions/<cloud>/<fn>/driver.ts `floor`), so a new function brings its own.
 */
const FLOOR_OF: ReadonlyMap<FunctionId, string> = new Map(allDrivers().map((d) => [d.id, d.floor]));

/** The floor of a function; a function whose driver names none (or no known one) is an error, not a silent default. */
export function floorOf(id: FunctionId): FloorName {
  const floor = FLOOR_OF.get(id);
  if (floor === undefined) throw new Error(`${id}: no test kit driver names its floor (driver.ts \`floor\`)`);
  if (!Object.hasOwn(FLOORS, floor))
    throw new Error(
      `${id}: its driver's floor "${floor}" is none of bench/floors/ (${Object.keys(FLOORS).join(', ')})`,
    );
  return floor as FloorName;
}

/**
 * The first invocation's event, per cloud: a real sample of a creation that failed (every function
 * of the cloud parses the envelope and ends `ignored`, so no API is called and no credentials are
 * needed).
 */
export const FIRST_INVOCATION_EVENT: Record<Cloud, string> = {
  aws: join(REPO_ROOT, 'events', 'aws', 'log-group-kms', 'create-log-group-failed.json'),
  alicloud: join(REPO_ROOT, 'events', 'alicloud', 'logstore-encryption', 'create-logstore-failed.json'),
};

export const floorEntry = (name: FloorName): string => join(REPO_ROOT, 'bench', 'floors', `${name}.ts`);

/** Minified bytes one package (or one of our files) contributes to a bundle. */
export interface Contribution {
  input: string;
  bytes: number;
}

export interface MeasuredBundle {
  name: string;
  file: string;
  /** What is read at import: the entry file and the chunks it imports statically. */
  bytes: number;
  /** Everything deployed: the file plus lazily loaded side bundles (e.g. `tablestore`). */
  deployBytes: number;
  importMs: number[];
  /** The first handler call after import (FIRST_INVOCATION_EVENT); empty for a floor. */
  firstMs: number[];
  processMs: number[];
  /** What is read at import, by package (node_modules) or by source file (ours), largest first. */
  inputs: Contribution[];
}

export interface ColdStartResult {
  id: FunctionId;
  floor: FloorName;
  handler: MeasuredBundle;
  floorBundle: MeasuredBundle;
  /** What the handler bundle carries beyond its floor, largest first (bytes over the floor's). */
  extra: Contribution[];
}

export interface ColdStartReport {
  runs: number;
  /** Bare `node -e 0` wall times: the process start every figure above sits on. */
  bareNodeMs: number[];
  functions: ColdStartResult[];
}

export interface ColdStartOptions {
  /** Fresh-process imports per bundle (>= 15 for the real run). */
  runs: number;
  /** Where bundles are written. */
  outdir: string;
  ids: readonly FunctionId[];
}

/** The environment a deployed function starts with (config set, SDK warning off); nothing else leaks in. */
function childEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    ATREST_CONFIG_JSON: readFileSync(join(REPO_ROOT, 'infra', 'example-config.json'), 'utf8'),
    // As the CDK stack deploys aws.log-group-kms: idempotency in DynamoDB through Powertools.
    IDEMPOTENCY_TABLE_NAME: 'atrest-idempotency',
  };
}

interface Target {
  name: string;
  file: string;
  esm: boolean;
  /** The event of the first invocation (functions only). */
  event?: string;
  importMs: number[];
  firstMs: number[];
  processMs: number[];
}

/** The invocation context each platform hands (only what the adapters read), as source text. */
const CONTEXT: Record<Cloud, string> = {
  aws: `{ awsRequestId: 'bench', functionName: 'atrest-bench', getRemainingTimeInMillis: () => 30000 }`,
  alicloud: `{ requestId: 'bench', function: { timeout: 60 }, region: 'cn-hangzhou' }`,
};

/**
 * One fresh process: returns [in-process import ms, first invocation ms (NaN for a floor), whole-process
 * wall ms]. The handler's log lines go to stderr (console) or before the figures (Powertools).
 */
function importOnce(
  target: Pick<Target, 'file' | 'esm' | 'event'>,
  env: Record<string, string>,
  cwd: string,
) {
  const load = target.esm
    ? `await import(${JSON.stringify(pathToFileURL(target.file).href)})`
    : `require(${JSON.stringify(target.file)})`;
  const context = CONTEXT[target.esm ? 'aws' : 'alicloud'];
  const invoke =
    target.event === undefined
      ? 'NaN'
      : `await (async () => { const event = require('node:fs').readFileSync(${JSON.stringify(target.event)}, 'utf8'); ` +
        `const t1 = performance.now(); console.log = console.error; ` +
        `const outcomes = await m.handler(${target.esm ? 'JSON.parse(event)' : 'Buffer.from(event)'}, ${context}); ` +
        `if (outcomes[0]?.outcome !== 'ignored') throw new Error('first invocation: ' + JSON.stringify(outcomes)); ` +
        `return performance.now() - t1; })()`;
  const body = `const t0 = performance.now(); const m = ${load}; const importMs = performance.now() - t0; const firstMs = ${invoke}; process.stdout.write('\\n' + JSON.stringify([importMs, firstMs]));`;
  const script = target.esm
    ? `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${body}`
    : `(async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });`;
  const args = target.esm ? ['--input-type=module', '-e', script] : ['-e', script];
  const started = process.hrtime.bigint();
  const out = execFileSync(process.execPath, args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  // The figures are the last line: a logger that writes to stdout itself (Powertools) comes before.
  const [importMs, firstMs] = JSON.parse(out.trim().split('\n').at(-1) || '[]') as [number?, number?];
  if (!Number.isFinite(importMs)) throw new Error(`import of ${target.file} printed ${JSON.stringify(out)}`);
  return [importMs as number, firstMs ?? Number.NaN, wall] as const;
}

function bareNodeOnce(env: Record<string, string>, cwd: string): number {
  const started = process.hrtime.bigint();
  execFileSync(process.execPath, ['-e', '0'], { cwd, env });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** `…/node_modules/@scope/pkg/dist/x.js` → `@scope/pkg`; our own files stay as paths. */
export function packageOf(input: string): string {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return input;
  const [first = '', second = ''] = input.slice(at + 'node_modules/'.length).split('/');
  return first.startsWith('@') ? `${first}/${second}` : first;
}

/** Minified bytes per package read at import (the eager files of the same split build), from its metafile. */
export async function contributions(entry: string, cloud: Cloud): Promise<Contribution[]> {
  const outDir = join(tmpdir(), 'atrest-bench-metafile');
  const result = await build({ ...splitBuildOptions(entry, cloud, outDir), write: false });
  const outputs = jsOutputs(result.metafile, cloud);
  const eager = new Set(eagerFiles(join(outDir, cloud === 'aws' ? 'index.mjs' : 'index.js'), outputs));
  const byPackage = new Map<string, number>();
  for (const { path, output } of outputs) {
    if (!eager.has(path)) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = packageOf(relative(REPO_ROOT, join(REPO_ROOT, input)));
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage]
    .map(([input, bytes]) => ({ input, bytes }))
    .filter((c) => c.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

/** Handler bytes beyond the floor's, per package, largest first. */
export function extraOver(handler: readonly Contribution[], floor: readonly Contribution[]): Contribution[] {
  const base = new Map(floor.map((c) => [c.input, c.bytes]));
  return handler
    .map((c) => ({ input: c.input, bytes: c.bytes - (base.get(c.input) ?? 0) }))
    .filter((c) => c.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

const sizeOf = (files: readonly string[]): number => files.reduce((sum, f) => sum + statSync(f).size, 0);

export async function measureColdStart(options: ColdStartOptions): Promise<ColdStartReport> {
  const floors = [...new Set(options.ids.map((id) => floorOf(id)))];
  const targets = new Map<string, Target & { bytes: number; deployBytes: number; inputs: Contribution[] }>();

  for (const name of floors) {
    const { cloud } = FLOORS[name];
    const built = await bundleEntry(floorEntry(name), cloud, join(options.outdir, 'floors', name));
    targets.set(name, {
      name,
      file: built.file,
      esm: cloud === 'aws',
      bytes: sizeOf(built.eager),
      deployBytes: built.bytes,
      inputs: await contributions(floorEntry(name), cloud),
      importMs: [],
      firstMs: [],
      processMs: [],
    });
  }
  for (const id of options.ids) {
    const { cloud } = functionSpec(id);
    const built = await bundleFunction(id, { outdir: join(options.outdir, 'functions') });
    if (built.warnings.length > 0) throw new Error(`bundling ${id}: ${built.warnings.join('; ')}`);
    targets.set(id, {
      name: id,
      file: built.file,
      esm: cloud === 'aws',
      event: FIRST_INVOCATION_EVENT[cloud],
      bytes: sizeOf(built.eager),
      deployBytes: built.bytes,
      inputs: await contributions(functionEntry(id), cloud),
      importMs: [],
      firstMs: [],
      processMs: [],
    });
  }

  const env = childEnv();
  // Outside the repo: no package.json "type" of ours applies, as on the platform.
  const cwd = join(tmpdir(), 'atrest-bench-cwd');
  mkdirSync(cwd, { recursive: true });
  const bareNodeMs: number[] = [];
  const all = [...targets.values()];
  // One warm-up round (page cache, CPU frequency), not counted.
  for (const t of all) importOnce(t, env, cwd);
  for (let run = 0; run < options.runs; run++) {
    bareNodeMs.push(bareNodeOnce(env, cwd));
    // Rotate the order each round so no bundle always runs right after the same neighbour.
    for (let i = 0; i < all.length; i++) {
      const t = all[(i + run) % all.length];
      if (!t) continue;
      const [importMs, firstMs, processMs] = importOnce(t, env, cwd);
      t.importMs.push(importMs);
      if (Number.isFinite(firstMs)) t.firstMs.push(firstMs);
      t.processMs.push(processMs);
    }
  }

  const measured = (name: string): MeasuredBundle => {
    const t = targets.get(name);
    if (!t) throw new Error(`no bundle ${name}`);
    const { esm: _esm, event: _event, ...rest } = t;
    return rest;
  };
  return {
    runs: options.runs,
    bareNodeMs,
    functions: options.ids.map((id) => {
      const handler = measured(id);
      const floorBundle = measured(floorOf(id));
      return {
        id,
        floor: floorOf(id),
        handler,
        floorBundle,
        extra: extraOver(handler.inputs, floorBundle.inputs),
      };
    }),
  };
}

/** Table rows: size (context), import time (target), whole process (context). */
export function coldStartRows(report: ColdStartReport): Row[] {
  const rows: Row[] = [
    {
      section: 'cold-start',
      subject: 'node -e 0',
      metric: 'process wall (context)',
      value: median(report.bareNodeMs),
      unit: 'ms',
    },
  ];
  for (const f of report.functions) {
    rows.push(
      {
        section: 'cold-start',
        subject: f.id,
        metric: `bundle bytes (floor: ${f.floor})`,
        value: f.handler.bytes,
        unit: 'B',
        floor: f.floorBundle.bytes,
        ratio: f.handler.bytes / f.floorBundle.bytes,
      },
      atMost(
        {
          section: 'cold-start',
          subject: f.id,
          metric: `import, median of ${report.runs}`,
          value: median(f.handler.importMs),
          unit: 'ms',
          floor: median(f.floorBundle.importMs),
        },
        IMPORT_RATIO_TARGET,
      ),
      {
        section: 'cold-start',
        subject: f.id,
        metric: 'first invocation (context)',
        value: median(f.handler.firstMs),
        unit: 'ms',
      },
      {
        section: 'cold-start',
        subject: f.id,
        metric: 'whole process, with the first invocation (context)',
        value: median(f.handler.processMs),
        unit: 'ms',
        floor: median(f.floorBundle.processMs),
        ratio: median(f.handler.processMs) / median(f.floorBundle.processMs),
      },
    );
  }
  return rows;
}
