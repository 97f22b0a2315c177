/**
 * The shape of the house, checked on every `npm test`: no import cycles among functions/, infra/
 * and bin/; functions/core knows no function; no file or export under functions/ that nothing
 * uses; no dependency in package.json that nothing uses. The graph comes from
 * test/architecture-graph.ts; the synthetic cases below prove each check can fail.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  blankComments,
  coreViolations,
  deadExports,
  type Edge,
  findCycles,
  parseFiles,
  parseSource,
  type SourceFile,
  sourceFiles,
  unreachable,
} from './architecture-graph.ts';

const ROOT = join(import.meta.dirname, '..');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  imports: Record<string, string>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
/** Where the checked code lives, and everything that may use it (tests and benches count as users). */
const CHECKED = ['functions', 'infra', 'bin'];
const FILES = sourceFiles(ROOT, [...CHECKED, 'bench', 'test']);
const PARSED = parseFiles(ROOT, FILES, PACKAGE.imports);
const EDGES = PARSED.flatMap((f) => f.edges);
const inChecked = (path: string) => CHECKED.some((dir) => path.startsWith(`${dir}/`));

/** Each function folder's files the platform or the infra load by path, not by import. */
const BY_PATH = /^functions\/[^/]+\/[^/]+\/(handler|permissions)\.ts$/;
/** Files written ahead of their first user, with the reason; each must still be unused (checked). */
const NOT_YET_USED: Record<string, string> = {};
/** What those files offer to their loaders: the platform's `handler`, infra/permissions.ts's two. */
const READ_BY_LOADER = new Set(['handler', 'permissions', 'permissionsFor']);

describe('the import graph of functions/, infra/ and bin/', () => {
  it('has no import cycle, at run time or through types', () => {
    const edges = EDGES.filter((e) => !e.external && inChecked(e.from) && inChecked(e.to));

    expect(findCycles(edges).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('functions/core imports nothing outside functions/core (core does not know the functions)', () => {
    expect(coreViolations(EDGES)).toEqual([]);
  });

  it('reads enough of the repository to mean something', () => {
    // A scanner that silently found nothing would pass every check above.
    expect(PARSED.filter((f) => f.path.startsWith('functions/core/')).length).toBeGreaterThan(10);
    expect(EDGES.filter((e) => !e.external && e.dynamic).length).toBeGreaterThan(5);
    expect(EDGES.some((e) => e.from === 'functions/manifests.ts' && e.to.endsWith('/manifest.ts'))).toBe(
      true,
    );
  });
});

describe('dead code under functions/', () => {
  it('loads handler.ts and permissions.ts by path, as the allow-list assumes', () => {
    const infra = PARSED.filter((f) => f.path.startsWith('infra/'))
      .map((f) => f.code)
      .join('\n');

    expect(infra).toMatch(/['`/]handler\.ts/);
    expect(infra).toMatch(/\/permissions\.ts/);
  });

  it('has no file that bin/, infra/ or a function entry point cannot reach', () => {
    const roots = FILES.filter((f) => f.startsWith('bin/') || f.startsWith('infra/') || BY_PATH.test(f));
    const found = unreachable(FILES, EDGES, roots, 'functions/');

    expect(found.filter((f) => !(f in NOT_YET_USED))).toEqual([]);
    // The waiting list cannot go stale: an entry that is now used must leave it.
    expect(Object.keys(NOT_YET_USED).filter((f) => !found.includes(f))).toEqual([]);
  });

  it('has no export that nothing imports: dead, or a value only its own file uses', () => {
    const keep = (path: string, name: string) => BY_PATH.test(path) && READ_BY_LOADER.has(name);

    expect(deadExports(PARSED, 'functions/', keep)).toEqual([]);
  });
});

describe('package.json dependencies', () => {
  /** Used without an import: why each stays. */
  const USED_OTHERWISE: Record<string, string> = {
    '@types/node': 'tsconfig `types`',
    'aws-cdk': 'infra/deploy.ts runs node_modules/.bin/cdk',
    // DynamoDBPersistenceLayer imports @aws-sdk/util-dynamodb, which only this optional peer of
    // @aws-lambda-powertools/idempotency brings in.
    '@aws-sdk/lib-dynamodb': 'the optional peer that brings @aws-sdk/util-dynamodb to powertools idempotency',
  };

  it('are each imported somewhere, run by a script, or named above with the reason', () => {
    const imported = new Set(EDGES.filter((e) => e.external).map((e) => e.to));
    const scripts = Object.values(PACKAGE.scripts).join(' ');
    const unused = Object.keys({ ...PACKAGE.dependencies, ...PACKAGE.devDependencies }).filter((name) => {
      if (imported.has(name) || name in USED_OTHERWISE) return false;
      // `@types/x` serves the imports of `x`.
      if (name.startsWith('@types/') && imported.has(name.slice('@types/'.length))) return false;
      const manifest = join(ROOT, 'node_modules', name, 'package.json');
      if (!existsSync(manifest)) return true;
      const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
      const bins = typeof bin === 'string' ? [name.split('/').pop() as string] : Object.keys(bin ?? {});
      return !bins.some((b) => new RegExp(`(^|[\\s;&|])${b}(\\s|$)`).test(scripts));
    });

    expect(unused).toEqual([]);
  });

  it('the allow-list above names only declared packages', () => {
    const declared = { ...PACKAGE.dependencies, ...PACKAGE.devDependencies };

    expect(Object.keys(USED_OTHERWISE).filter((name) => !(name in declared))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The checks themselves can fail
// ---------------------------------------------------------------------------------------------

const edge = (from: string, to: string, extra: Partial<Edge> = {}): Edge => ({
  from,
  to,
  external: false,
  names: '*',
  typeOnly: false,
  dynamic: false,
  ...extra,
});

describe('findCycles', () => {
  it('names a cycle, in import order, closing on its first file', () => {
    const cycles = findCycles([
      edge('a.ts', 'b.ts'),
      edge('b.ts', 'c.ts'),
      edge('c.ts', 'a.ts'),
      edge('c.ts', 'd.ts'),
    ]);

    expect(cycles).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('finds the doctor ↔ doctor-aws shape and a file importing itself; a diamond is no cycle', () => {
    expect(findCycles([edge('doctor.ts', 'doctor-aws.ts'), edge('doctor-aws.ts', 'doctor.ts')])).toEqual([
      ['doctor-aws.ts', 'doctor.ts', 'doctor-aws.ts'],
    ]);
    expect(findCycles([edge('x.ts', 'x.ts')])).toEqual([['x.ts', 'x.ts']]);
    expect(findCycles([edge('a', 'b'), edge('a', 'c'), edge('b', 'd'), edge('c', 'd')])).toEqual([]);
  });
});

describe('the scanner', () => {
  const files = new Set(['functions/a.ts', 'functions/b.ts', 'functions/c.ts', 'functions/core/x.ts']);
  const resolveIn = (spec: string) => {
    if (!spec.startsWith('./')) return { to: spec, external: true };
    const to = `functions/${spec.slice(2)}`;
    return files.has(to) ? { to, external: false } : undefined;
  };

  it('reads static, type-only, re-exporting and dynamic imports, and ignores comments', () => {
    const file = parseSource(
      'functions/a.ts',
      [
        "import { x, type Y as Z } from './b.ts';",
        "import type { T } from './c.ts';",
        "// import { never } from './core/x.ts';",
        "/* import('./core/x.ts') */",
        "const re = /\\/* not a comment/; const s = '// nor this';",
        "export { w } from './b.ts';",
        "export async function f() { const { g } = await import('./c.ts'); return (await import('./b.ts')).h; }",
        "import * as z from 'zod/mini';",
      ].join('\n'),
      resolveIn,
    );

    expect(file.edges.map((e) => [e.to, e.names, e.typeOnly, e.dynamic])).toEqual([
      ['functions/b.ts', ['x', 'Y'], false, false],
      ['functions/c.ts', ['T'], true, false],
      ['functions/b.ts', ['w'], false, false],
      ['zod/mini', '*', false, false],
      ['functions/c.ts', ['g'], false, true],
      ['functions/b.ts', ['h'], false, true],
    ]);
    expect(file.exports).toEqual(['f']);
    expect(file.reexports).toEqual(['w']);
  });

  it('keeps strings, templates and regex literals while blanking comments', () => {
    const code = blankComments(
      `const a = \`x \${'/*'} y\`; // gone\nconst b = /[/*]/g; /* gone */ const c = '//';`,
    );

    expect(code).not.toContain('gone');
    expect(code).toContain(['`x $', "{'/*'} y`"].join(''));
    expect(code).toContain('/[/*]/g');
    expect(code).toContain("'//'");
  });

  it('flags core importing a function, a file nothing reaches, and exports nothing uses', () => {
    const a = parseSource(
      'functions/a.ts',
      [
        "import { used } from './b.ts';",
        "export { gone } from './b.ts';",
        'export type Shape = { n: number };',
        'export const local = 1;',
        'export const alone = 2;',
        'export const sum = (s: Shape) => local + used + s.n;',
      ].join('\n'),
      resolveIn,
    );
    const b = parseSource('functions/b.ts', 'export const used = 1; export const gone = 2;', resolveIn);
    const core = parseSource('functions/core/x.ts', "import { used } from '../b.ts';", (spec) =>
      spec === '../b.ts' ? { to: 'functions/b.ts', external: false } : undefined,
    );
    const all: SourceFile[] = [a, b, core];

    expect(coreViolations(all.flatMap((f) => f.edges))).toEqual(['functions/core/x.ts → functions/b.ts']);
    expect(unreachable([...files], a.edges, ['functions/a.ts'], 'functions/')).toEqual([
      'functions/c.ts',
      'functions/core/x.ts',
    ]);
    // `Shape` is only used inside too, but a type may document an exported signature.
    expect(deadExports(all, 'functions/')).toEqual([
      'functions/a.ts#gone (re-export)',
      'functions/a.ts#alone',
      'functions/a.ts#local (only used inside)',
      'functions/a.ts#sum',
    ]);
  });
});
