/**
 * The import graph of the repository's own TypeScript / ESM files, for test/architecture.test.ts.
 *
 * Why a scanner and not TypeScript's parser: the `typescript` devDependency is the native 7.x
 * compiler, which ships no JavaScript API. So: a small lexer blanks comments (keeping strings,
 * template literals and regex literals intact, so `// import x from 'y'` in a comment or a `/*` in
 * a regex never counts), then patterns read the four forms an import takes here — `import … from`,
 * `export … from`, a bare `import 'x'`, and `import('x')` / `require('x')` with a literal
 * specifier. `verbatimModuleSyntax` (tsconfig) makes every type-only import say `type`, so an
 * edge knows whether it exists at run time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface Edge {
  /** Importing file, relative to the root, `/`-separated. */
  from: string;
  /** The file it resolves to (relative), or the package name for a bare specifier. */
  to: string;
  /** A package (bare specifier), not a file of ours. */
  external: boolean;
  /** Names taken from `to` (`default` for a default import); `*` for all of them (namespace, `export *`, an unparsed dynamic import). */
  names: readonly string[] | '*';
  /** Erased at compile time (`import type`, `typeof import()`, every name marked `type`). */
  typeOnly: boolean;
  /** `import()` / `require()`: evaluated when called, not when the importer loads. */
  dynamic: boolean;
}

export interface SourceFile {
  path: string;
  /** Names it declares and exports (`default` for `export default`). */
  exports: readonly string[];
  /** Those of `exports` that are types only (`interface`, `type`): erased, never run. */
  types: readonly string[];
  /** Names it passes on from another file (`export { x } from`; not `export *`). */
  reexports: readonly string[];
  /** The source with comments blanked (for counting a name's uses inside the file). */
  code: string;
  edges: readonly Edge[];
}

const SOURCE = /\.(ts|mts|mjs|js)$/;

/** Every source file under `dirs` (relative to `root`), skipping declaration files. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (name === 'node_modules' || name.startsWith('.') || name === 'cdk.out' || name === 'dist') continue;
      const path = `${dir}/${name}`;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  for (const dir of dirs) if (existsSync(join(root, dir))) walk(dir);
  return out;
}

/** Reads and parses `files`; `imports` maps `#alias/*` subpath imports (package.json `imports`). */
export function parseFiles(
  root: string,
  files: readonly string[],
  imports: Record<string, string> = {},
): SourceFile[] {
  return files.map((path) =>
    parseSource(path, readFileSync(join(root, path), 'utf8'), (spec) =>
      resolveSpecifier(root, path, spec, imports),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Lexing: blank the comments, nothing else
// ---------------------------------------------------------------------------------------------

const REGEX_AFTER = new Set([...'(,=:[!&|?{};+-*%<>~^']);
const REGEX_AFTER_WORD = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'yield',
  'await',
  'instanceof',
]);

/**
 * The source with every comment replaced by spaces (newlines kept). Strings, template literals
 * (with nested `${}`), and regex literals (told from division by the token before the `/`) are
 * copied as they are, so comment markers inside them are not comments.
 */
export function blankComments(src: string): string {
  let out = '';
  let i = 0;
  const n = src.length;
  let depth = 0;
  const templates: number[] = [];
  let lastChar = '';
  let lastWord = '';
  const copyUntilQuote = (quote: string): void => {
    out += src[i++];
    while (i < n && src[i] !== quote && src[i] !== '\n') {
      if (src[i] === '\\') out += src[i++];
      out += src[i++];
    }
    if (i < n) out += src[i++];
  };
  /** Template text from `i` to its closing backtick, or to a `${` (then back to code). */
  const copyTemplate = (): void => {
    while (i < n) {
      const c = src[i];
      if (c === '\\') {
        out += src[i++];
        out += src[i++] ?? '';
      } else if (c === '`') {
        out += src[i++];
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        out += '${';
        i += 2;
        templates.push(depth);
        depth += 1;
        return;
      } else out += src[i++];
    }
  };
  while (i < n) {
    const c = src[i] as string;
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && src[i] !== '\n') {
        out += ' ';
        i += 1;
      }
      continue;
    }
    if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      copyUntilQuote(c);
      lastChar = c;
      lastWord = '';
      continue;
    }
    if (c === '`') {
      out += src[i++];
      copyTemplate();
      lastChar = '`';
      lastWord = '';
      continue;
    }
    if (c === '{') depth += 1;
    if (c === '}') {
      depth -= 1;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        out += src[i++];
        copyTemplate();
        lastChar = '`';
        lastWord = '';
        continue;
      }
    }
    if (c === '/' && (lastChar === '' || REGEX_AFTER.has(lastChar) || REGEX_AFTER_WORD.has(lastWord))) {
      // A regex literal: copy to its closing slash (a `/` inside [...] does not close it), then flags.
      out += src[i++];
      let inClass = false;
      while (i < n && src[i] !== '\n') {
        const r = src[i] as string;
        if (r === '\\') {
          out += src[i++];
          out += src[i++] ?? '';
          continue;
        }
        out += src[i++];
        if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
      }
      lastChar = '/';
      lastWord = '';
      continue;
    }
    out += src[i++];
    if (/\s/.test(c)) continue;
    if (/[\w$]/.test(c)) {
      lastWord = /[\w$]/.test(lastChar) ? lastWord + c : c;
    } else lastWord = '';
    lastChar = c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Imports and exports
// ---------------------------------------------------------------------------------------------

const CLAUSE = String.raw`(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)|[\w$]+`;
const STATIC = new RegExp(
  String.raw`(?<![\w$.])(import|export)\s+(type\s+)?(${CLAUSE})\s*from\s*(['"])([^'"\n]+)\4`,
  'g',
);
const BARE = /(?<![\w$.])import\s*(['"])([^'"\n]+)\1/g;
const DYNAMIC = /(?<![\w$.])(import|require)\s*\(\s*(['"])([^'"\n]+)\2\s*\)/g;
const DECLARED =
  /(?<![\w$.])export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(function\*?|class|const|let|var|interface|type|enum|namespace)\s+([\w$]+)/g;
const DEFAULT = /(?<![\w$.])export\s+default\b/g;
const LOCAL_LIST = /(?<![\w$.])export\s+(?:type\s+)?\{([^}]*)\}(?!\s*from)/g;

interface Named {
  names: string[];
  typeOnly: boolean;
}

/** `{ a, type b, c as d }` → the names taken (`a`, `b`, `c`), type-only when every one says `type`. */
function braceNames(list: string, side: 'imported' | 'exported'): Named {
  const parts = list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const names = parts.map((p) => {
    const bare = p.replace(/^type\s+/, '');
    const [imported, exported] = bare.split(/\s+as\s+/);
    return (side === 'imported' ? imported : (exported ?? imported)) as string;
  });
  return { names, typeOnly: parts.length > 0 && parts.every((p) => /^type\s/.test(p)) };
}

function clauseNames(clause: string): Named {
  const brace = /\{([^}]*)\}/.exec(clause);
  const star = /\*/.test(clause);
  const names: string[] = [];
  let typeOnly = false;
  if (brace) {
    const inner = braceNames(brace[1] as string, 'imported');
    names.push(...inner.names);
    typeOnly = inner.typeOnly;
  }
  const head = /^([\w$]+)\s*(,|$)/.exec(clause.trim());
  if (head) {
    names.push('default');
    typeOnly = false;
  }
  return { names: star ? ['*'] : names, typeOnly };
}

/** Parses one file's imports (with `resolveSpec` turning a specifier into a file or package) and exports. */
export function parseSource(
  path: string,
  src: string,
  resolveSpec: (specifier: string) => { to: string; external: boolean } | undefined,
): SourceFile {
  const code = blankComments(src);
  const edges: Edge[] = [];
  const reexports: string[] = [];
  const add = (spec: string, names: readonly string[] | '*', typeOnly: boolean, dynamic: boolean): void => {
    const target = resolveSpec(spec);
    if (target === undefined) return;
    edges.push({ from: path, ...target, names: names.includes('*') ? '*' : names, typeOnly, dynamic });
  };
  for (const m of code.matchAll(STATIC)) {
    const [, keyword, typeWord, clause, , spec] = m as unknown as [
      string,
      string,
      string | undefined,
      string,
      string,
      string,
    ];
    const named = clauseNames(clause);
    // `export { x } from` re-exports: x is taken from the target and exported by this file too.
    add(spec, named.names, typeWord !== undefined || named.typeOnly, false);
    const brace = /\{([^}]*)\}/.exec(clause);
    if (keyword === 'export' && brace)
      for (const name of braceNames(brace[1] as string, 'exported').names) reexports.push(name);
  }
  for (const m of code.matchAll(BARE)) add(m[2] as string, [], false, false);
  for (const m of code.matchAll(DYNAMIC)) {
    const spec = m[3] as string;
    const at = m.index ?? 0;
    const before = code.slice(Math.max(0, at - 200), at);
    const after = code.slice(at + m[0].length, at + m[0].length + 80);
    const typeOnly = /typeof\s*$/.test(before);
    // `const { a, b } = await import('x')` and `(await import('x')).a` name what they take.
    const destructured = /(?:const|let|var)\s*\{([^}]*)\}\s*=\s*(?:await\s*)?$/.exec(before);
    const member = /\(\s*await\s*$/.test(before) ? /^\s*\)\s*\.\s*([\w$]+)/.exec(after) : null;
    const names = destructured
      ? braceNames((destructured[1] as string).replace(/:\s*[\w$]+/g, ''), 'imported').names
      : member
        ? [member[1] as string]
        : ['*'];
    add(spec, names, typeOnly, !typeOnly);
  }
  const exports = new Set<string>();
  const types = new Set<string>();
  for (const m of code.matchAll(DECLARED)) {
    const isDefault = /export\s+(?:declare\s+)?default\b/.test(m[0]);
    const name = isDefault ? 'default' : (m[2] as string);
    exports.add(name);
    if (m[1] === 'interface' || m[1] === 'type') types.add(name);
  }
  for (const _ of code.matchAll(DEFAULT)) exports.add('default');
  for (const m of code.matchAll(LOCAL_LIST))
    for (const name of braceNames(m[1] as string, 'exported').names) exports.add(name);
  return {
    path,
    exports: [...exports].sort(),
    types: [...types].sort(),
    reexports: [...new Set(reexports)].sort(),
    code,
    edges,
  };
}

/** `./x.ts`, `../y.js`, `#core/z` → a file under root; `pkg/sub` → the package `pkg`; else undefined. */
export function resolveSpecifier(
  root: string,
  from: string,
  spec: string,
  imports: Record<string, string>,
): { to: string; external: boolean } | undefined {
  if (spec.startsWith('node:')) return undefined;
  let target: string | undefined;
  if (spec.startsWith('.')) target = resolve(root, dirname(from), spec);
  else if (spec.startsWith('#')) {
    for (const [pattern, replacement] of Object.entries(imports)) {
      const prefix = pattern.replace(/\*$/, '');
      if (pattern.endsWith('*') ? spec.startsWith(prefix) : spec === pattern) {
        target = resolve(root, replacement.replace('*', spec.slice(prefix.length)));
        break;
      }
    }
    if (target === undefined) return undefined;
  } else {
    const parts = spec.split('/');
    const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
    return { to: name, external: true };
  }
  const candidates = [target, `${target}.ts`, target.replace(/\.js$/, '.ts'), `${target}/index.ts`];
  const file = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (file === undefined) return undefined;
  return { to: relative(root, file).split('\\').join('/'), external: false };
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/**
 * Every cycle among run-time edges (type-only ones are erased and cannot cycle at load), each as
 * the files in order with the first repeated at the end, found by Tarjan's strongly connected
 * components: one cycle named per component of two or more files, or a file importing itself.
 */
export function findCycles(edges: readonly Pick<Edge, 'from' | 'to'>[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, []);
    (next.get(from) as string[]).push(to);
    if (!next.has(to)) next.set(to, []);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strongConnect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) strongConnect(v);
  return components.map((component) => cycleWithin(component, next));
}

/** One concrete cycle through a strongly connected component, starting at its first file by name. */
function cycleWithin(component: readonly string[], next: ReadonlyMap<string, string[]>): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0] as string;
  // Breadth-first from start's successors back to start: the shortest cycle through it.
  const previous = new Map<string, string>();
  const queue: string[] = [];
  for (const w of next.get(start) ?? []) {
    if (w === start) return [start, start];
    if (members.has(w) && !previous.has(w)) {
      previous.set(w, start);
      queue.push(w);
    }
  }
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of next.get(v) ?? []) {
      if (w === start) {
        const path = [v];
        let at = v;
        while (previous.get(at) !== start) {
          at = previous.get(at) as string;
          path.unshift(at);
        }
        return [start, ...path, start];
      }
      if (members.has(w) && !previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component, component[0] as string];
}

/** Runtime and type-only edges from functions/core to a file outside it: core must not know the functions. */
export function coreViolations(edges: readonly Edge[], core = 'functions/core/'): string[] {
  return edges
    .filter((e) => !e.external && e.from.startsWith(core) && !e.to.startsWith(core))
    .map((e) => `${e.from} → ${e.to}`);
}

/** Files under `under` that no root reaches through any import (static, dynamic or type-only). */
export function unreachable(
  files: readonly string[],
  edges: readonly Edge[],
  roots: readonly string[],
  under: string,
): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.external) continue;
    if (!next.has(e.from)) next.set(e.from, []);
    (next.get(e.from) as string[]).push(e.to);
  }
  const seen = new Set(roots);
  const queue = [...roots];
  while (queue.length > 0) {
    const v = queue.pop() as string;
    for (const w of next.get(v) ?? []) {
      if (!seen.has(w)) {
        seen.add(w);
        queue.push(w);
      }
    }
  }
  return files.filter((f) => f.startsWith(under) && !seen.has(f));
}

/**
 * Exports of the files under `under` that no file imports, as `path#name`: a re-export (dead), a
 * declaration its own file does not use either (dead), or a value — function, class, constant —
 * that only its own file uses (`(only used inside)`: it should not be exported). A type used only
 * inside its file may stay exported (it documents an exported signature). `keep` names what
 * something outside the import graph reads (a platform's handler, a file loaded by path).
 */
export function deadExports(
  files: readonly SourceFile[],
  under: string,
  keep: (path: string, name: string) => boolean = () => false,
): string[] {
  const taken = new Map<string, Set<string> | '*'>();
  for (const file of files) {
    for (const e of file.edges) {
      if (e.external) continue;
      const seen = taken.get(e.to);
      if (seen === '*') continue;
      if (e.names === '*') taken.set(e.to, '*');
      else taken.set(e.to, new Set([...(seen ?? []), ...e.names]));
    }
  }
  const dead: string[] = [];
  for (const file of files) {
    if (!file.path.startsWith(under)) continue;
    const used = taken.get(file.path);
    if (used === '*') continue;
    const unused = (name: string) => !used?.has(name) && !keep(file.path, name);
    for (const name of file.reexports) if (unused(name)) dead.push(`${file.path}#${name} (re-export)`);
    for (const name of file.exports) {
      if (!unused(name)) continue;
      if (name === 'default') {
        dead.push(`${file.path}#default`);
        continue;
      }
      const uses = file.code.match(new RegExp(`(?<![\\w$])${name.replaceAll('$', '\\$')}(?![\\w$])`, 'g'));
      if ((uses?.length ?? 0) <= 1) dead.push(`${file.path}#${name}`);
      else if (!file.types.includes(name)) dead.push(`${file.path}#${name} (only used inside)`);
    }
  }
  return dead;
}
