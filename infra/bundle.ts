/**
 * The one bundler: the CDK app, the ROS packaging and the benchmark all call it, so what is
 * measured is what is deployed. Each function becomes one folder (`<outdir>/<id>/`): its minified
 * entry file, the chunks it loads on first use and its side packages. The folder is exactly the
 * Lambda asset / FC code package.
 *
 * - AWS Lambda (nodejs22.x): ESM `index.mjs`. The `createRequire` banner gives esbuild's
 *   `require` shim a real `require` for the CommonJS parts that stay in the graph.
 * - Function Compute (nodejs20): CommonJS `index.js`, with a `{"type":"commonjs"}` package.json
 *   beside it so Node never reads it as ESM wherever the folder ends up (this repo's own
 *   package.json says `"type": "module"`). CommonJS because FC loads it as such without extra
 *   settings, and because several Alibaba SDKs are CommonJS-only.
 * - Sloppy-mode packages (`tablestore`: `for (key in …)` with `key` undeclared) break inside any
 *   bundle whose entry is ESM, because esbuild then emits `"use strict"` for the whole file
 *   (`ReferenceError: key is not defined` at the first request). They stay external and are
 *   bundled separately, as CommonJS without the directive, into `node_modules/<pkg>/index.js`
 *   inside the same folder, so the function still ships as one self-contained folder.
 * - Lazily loaded packages (LAZY_PACKAGES: `re2js` for exclude patterns that need RE2,
 *   `@alicloud/openapi-util` for the FC re-queue and STS AssumeRole of the SLS / OSS Tables
 *   functions) ship the same way, as side files the bundle `require`s on first use: a single
 *   CommonJS/ESM file without code splitting would otherwise parse them at every cold start
 *   although most invocations never run them (issue 12, cold start).
 * - Code splitting: what only some invocations run (the trail path, STS for member accounts, the
 *   re-queue, the sweep; the SDKs' own rarely used credential providers) is reached through
 *   `import()` and lands in `chunks/`, files Node reads only when that path first runs. esbuild
 *   splits ESM only: the AWS output is ESM anyway; the Alibaba Cloud output is split as ESM, then
 *   each file is rewritten as CommonJS on its own (see bundleEntry). `eager` in the result lists
 *   what is read at import; the benchmark measures exactly that.
 *
 * `mainFields: ['module', 'main']` picks the SDKs' ES builds: their CommonJS builds
 * `require('node:https')` dynamically, which fails at the first request inside an ESM bundle.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BuildOptions, build, type Message, type Metafile, transform } from 'esbuild';
import {
  type Cloud,
  FUNCTION_IDS,
  type FunctionId,
  functionEntry,
  functionSpec,
  REPO_ROOT,
} from './functions.ts';

export interface BundleOptions {
  /** Root folder; the function lands in `<outdir>/<id>/`. Default `<repo>/dist`. */
  outdir?: string;
  /** Minify (identifiers, whitespace, syntax). Default true: deploy and benchmark what ships. */
  minify?: boolean;
}

export interface BundleResult {
  /** Absolute path of the bundle (`index.mjs` on AWS, `index.js` on Alibaba Cloud). */
  file: string;
  /** Bytes of JavaScript the function loads: the bundle plus its sloppy-mode chunks. */
  bytes: number;
  /**
   * Everything else deployed beside `file` (absolute paths): the chunks code splitting made (under
   * `chunks/`) and the side bundles of SIDE_PACKAGES (under `node_modules/`).
   */
  chunks: string[];
  /** What Node reads at import (`file` first, then the chunks it imports statically); the rest loads on first use. */
  eager: string[];
  /** The folder to deploy (Lambda asset / FC zip content). */
  dir: string;
  /** The handler string the platform needs: `index.handler`. */
  handler: string;
  /** esbuild's warnings, formatted; empty for a clean build. */
  warnings: string[];
}

/** Node 20 is the oldest runtime the bundle must load on (FC nodejs20; Lambda runs 22). */
export const BUNDLE_TARGET = 'node20';

/** Packages that only work in sloppy mode: kept out of the strict bundle (see the header). */
export const SLOPPY_PACKAGES: readonly string[] = ['tablestore'];

/**
 * Packages only rarely used paths load (see the header): kept out of the file parsed at cold
 * start. Each is reached only through a lazy `require` / `import()` in functions whose hot path
 * does not need it; where a function needs it on every invocation (the OpenAPI functions) the
 * side file is one more `require` at import, which the benchmark measures.
 */
export const LAZY_PACKAGES: readonly string[] = ['re2js', '@alicloud/openapi-util'];

/** Everything shipped beside the bundle rather than in it. */
export const SIDE_PACKAGES: readonly string[] = [...SLOPPY_PACKAGES, ...LAZY_PACKAGES];

const ESM_REQUIRE_BANNER =
  "import { createRequire as __atrestCreateRequire } from 'node:module'; const require = __atrestCreateRequire(import.meta.url);";

/** The esbuild options for a cloud: shared by functions and by the benchmark's floor bundles. */
export function buildOptionsFor(cloud: Cloud, minify = true): BuildOptions {
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: BUNDLE_TARGET,
    minify,
    mainFields: ['module', 'main'],
    // Licence texts go to a side file: they are kept, but not parsed at every cold start.
    legalComments: 'external',
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  };
  return cloud === 'aws'
    ? { ...common, format: 'esm', banner: { js: ESM_REQUIRE_BANNER } }
    : { ...common, format: 'cjs' };
}

export function bundleFileName(cloud: Cloud): string {
  return cloud === 'aws' ? 'index.mjs' : 'index.js';
}

/**
 * Bundles any entry file with a cloud's settings into `dir` (emptied first). The benchmark uses
 * this for its floor bundles; `bundleFunction` for the functions.
 *
 * Code splitting (see the header): esbuild splits ESM only, so the build is ESM with
 * `splitting`; on AWS that is the deployed format, on Alibaba Cloud each output file is then
 * turned into CommonJS on its own (`import` → `require`, `import()` → a deferred `require`). The
 * chunks are modules of one graph, loaded once each through Node's module cache, so a class or
 * a memo shared by the eager and the lazy part exists once.
 */
export async function bundleEntry(
  entry: string,
  cloud: Cloud,
  dir: string,
  minify = true,
): Promise<Omit<BundleResult, 'handler'>> {
  const outDir = resolve(dir);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, bundleFileName(cloud));
  const result = await build(splitBuildOptions(entry, cloud, outDir, minify));
  const outputs = jsOutputs(result.metafile, cloud);
  const warnings = result.warnings.map(formatMessage);
  if (cloud === 'alicloud') {
    for (const { path } of outputs) warnings.push(...(await toCommonJs(path, minify)));
    writeFileSync(join(outDir, 'package.json'), '{"type":"commonjs"}\n');
  }
  const used = new Set(
    outputs.flatMap(({ output }) =>
      output.imports.filter((i) => i.external && SIDE_PACKAGES.includes(i.path)).map((i) => i.path),
    ),
  );
  const chunks = outputs.map((o) => o.path).filter((p) => p !== file);
  for (const pkg of used) {
    const chunk = await bundleSloppyPackage(pkg, outDir, minify);
    chunks.push(chunk.file);
    warnings.push(...chunk.warnings);
  }
  const eager = eagerFiles(file, outputs);
  const bytes = [file, ...chunks].reduce((sum, f) => sum + statSync(f).size, 0);
  return { file, bytes, chunks, eager, dir: outDir, warnings };
}

/** The split build of one entry into `outDir` (ESM; see bundleEntry for the Alibaba Cloud step). */
export function splitBuildOptions(
  entry: string,
  cloud: Cloud,
  outDir: string,
  minify = true,
): BuildOptions & { metafile: true } {
  return {
    ...buildOptionsFor(cloud, minify),
    format: 'esm',
    splitting: true,
    entryPoints: { index: entry },
    outdir: outDir,
    outExtension: { '.js': cloud === 'aws' ? '.mjs' : '.js' },
    chunkNames: 'chunks/[name]-[hash]',
    external: [...SIDE_PACKAGES],
    metafile: true,
  };
}

export interface SplitOutput {
  /** Absolute path. */
  path: string;
  output: Metafile['outputs'][string];
}

/** The JavaScript files of a split build (not the licence side files). */
export function jsOutputs(metafile: Metafile, cloud: Cloud): SplitOutput[] {
  const ext = cloud === 'aws' ? '.mjs' : '.js';
  return Object.entries(metafile.outputs)
    .filter(([name]) => name.endsWith(ext))
    .map(([name, output]) => ({ path: resolve(REPO_ROOT, name), output }));
}

/**
 * The files Node reads at import: the entry and every chunk it imports statically, transitively.
 * Chunks reached only through `import()` are read on first use.
 */
export function eagerFiles(file: string, outputs: readonly SplitOutput[]): string[] {
  const byPath = new Map(outputs.map((o) => [o.path, o.output]));
  const seen = [file];
  for (let i = 0; i < seen.length; i++) {
    for (const imported of byPath.get(seen[i] ?? '')?.imports ?? []) {
      if (imported.external || imported.kind !== 'import-statement') continue;
      const path = resolve(REPO_ROOT, imported.path);
      if (!seen.includes(path)) seen.push(path);
    }
  }
  return seen;
}

/**
 * One ESM output file rewritten as CommonJS in place. Per file, so the chunk graph stays as
 * esbuild split it; `"use strict"` is right here, as every file came from ESM (strict) source.
 */
async function toCommonJs(path: string, minify: boolean): Promise<string[]> {
  const { code, warnings } = await transform(readFileSync(path, 'utf8'), {
    format: 'cjs',
    platform: 'node',
    target: BUNDLE_TARGET,
    minify,
    legalComments: 'external',
    logLevel: 'silent',
  });
  writeFileSync(path, code.startsWith('"use strict"') ? code : `"use strict";${code}`);
  // e.g. `import.meta`, which CommonJS lacks: a warning here is a bundle that breaks at run time.
  return warnings.map((w) => `${path}: ${formatMessage(w)}`);
}

/** One side package (sloppy-mode or lazily loaded) as a CommonJS file that `require('<pkg>')` finds from `dir`. */
async function bundleSloppyPackage(
  pkg: string,
  dir: string,
  minify: boolean,
): Promise<{ file: string; warnings: string[] }> {
  const file = join(dir, 'node_modules', pkg, 'index.js');
  const result = await build({
    ...buildOptionsFor('alicloud', minify),
    // A CommonJS entry: esbuild adds no "use strict" of its own.
    stdin: { contents: `module.exports = require(${JSON.stringify(pkg)});`, resolveDir: REPO_ROOT },
    outfile: file,
  });
  // CommonJS wherever the folder lands (under this repo, whose package.json says "type": "module",
  // Node would read the file as ESM), and a `main` so an ESM `import()` resolves it too.
  writeFileSync(join(dir, 'node_modules', pkg, 'package.json'), '{"type":"commonjs","main":"index.js"}\n');
  return { file, warnings: result.warnings.map(formatMessage) };
}

/** Bundles one function (its `handler.ts`) into `<outdir>/<id>/`. */
export async function bundleFunction(id: FunctionId, options: BundleOptions = {}): Promise<BundleResult> {
  const { cloud } = functionSpec(id);
  const outdir = options.outdir ?? join(REPO_ROOT, 'dist');
  const result = await bundleEntry(functionEntry(id), cloud, join(outdir, id), options.minify ?? true);
  return { ...result, handler: 'index.handler' };
}

/** Bundles the given functions (default: all five), one after another (esbuild is already parallel). */
export async function bundleAll(
  options: BundleOptions & { ids?: readonly FunctionId[] } = {},
): Promise<Map<FunctionId, BundleResult>> {
  const results = new Map<FunctionId, BundleResult>();
  for (const id of options.ids ?? FUNCTION_IDS) results.set(id, await bundleFunction(id, options));
  return results;
}

function formatMessage(message: Message): string {
  const where = message.location
    ? `${message.location.file}:${message.location.line}:${message.location.column}: `
    : '';
  return `${where}${message.text}`;
}
