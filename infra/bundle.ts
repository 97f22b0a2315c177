/**
 * The one bundler: the CDK app, the ROS packaging and the benchmark all call it, so what is
 * measured is what is deployed. Each function becomes one minified file in its own folder
 * (`<outdir>/<id>/`), which is exactly the Lambda asset / FC code package.
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
 *
 * `mainFields: ['module', 'main']` picks the SDKs' ES builds: their CommonJS builds
 * `require('node:https')` dynamically, which fails at the first request inside an ESM bundle.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BuildOptions, build, type Message } from 'esbuild';
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
  /** Side bundles of sloppy-mode packages (absolute paths); usually empty. */
  chunks: string[];
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
  const result = await build({
    ...buildOptionsFor(cloud, minify),
    entryPoints: [entry],
    outfile: file,
    external: [...SIDE_PACKAGES],
    metafile: true,
  });
  if (cloud === 'alicloud') writeFileSync(join(outDir, 'package.json'), '{"type":"commonjs"}\n');
  const used = new Set(
    Object.values(result.metafile.outputs).flatMap((output) =>
      output.imports.filter((i) => i.external && SIDE_PACKAGES.includes(i.path)).map((i) => i.path),
    ),
  );
  const warnings = result.warnings.map(formatMessage);
  const chunks: string[] = [];
  for (const pkg of used) {
    const chunk = await bundleSloppyPackage(pkg, outDir, minify);
    chunks.push(chunk.file);
    warnings.push(...chunk.warnings);
  }
  const bytes = [file, ...chunks].reduce((sum, f) => sum + statSync(f).size, 0);
  return { file, bytes, chunks, dir: outDir, warnings };
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
