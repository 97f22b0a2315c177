/**
 * Every function's event parser as a fuzzing target, from its driver (test/functions/<cloud>/<fn>/
 * driver.ts `fuzz`): its remediator, the zod schema of its envelope, its sample event, hints that
 * steer generated events past the envelope checks, and what makes a returned target safe to use.
 * A new function joins fuzz.test.ts and endpoints.test.ts through its driver, not a line here.
 */
import type fc from 'fast-check';
import type { FunctionId } from '#core/outcome';
import type { Target } from '#core/remediator';
import { type Config, parseConfig } from '../../functions/config.ts';
import { configSection, manifestOf } from '../../functions/manifests.ts';
import type { Hints } from './arbitraries.ts';
import { type AnyRemediator, allDrivers, type EventJson, excludingAll, sample } from './drivers.ts';

export { sample };

export interface Parser {
  id: FunctionId;
  remediator: AnyRemediator;
  /** The same remediator with real clients, reading endpoints from `env`. */
  make(env: Record<string, string>): AnyRemediator;
  schema: unknown;
  sample: EventJson;
  hints: Hints;
  /** Other inputs it parses beyond its envelope (the disk timer's events). */
  more?: () => fc.Arbitrary<unknown>;
  /** Why a target is not safe to use, or an empty list. */
  check(target: Target & Record<string, unknown>): string[];
}

export const PARSERS: Parser[] = allDrivers().map((d) => ({
  id: d.id,
  remediator: d.make({}),
  make: (env) => d.make(env),
  schema: d.fuzz.schema(),
  sample: sample(d.fuzz.sample),
  hints: d.fuzz.hints,
  ...(d.fuzz.more ? { more: d.fuzz.more } : {}),
  check: (t) => d.fuzz.check(t),
}));

/**
 * Every function switched on (each driver's own section), so parse and desire both run; where the
 * config has an exclude list, names starting `excluded` are excluded, so that path runs too.
 */
export const CONFIG: Config = parseConfig(
  allDrivers().reduce<Record<string, Record<string, unknown>>>((doc, d) => {
    const { cloud, section } = manifestOf(d.id);
    const own = excludingAll(d, '^excluded') ?? d.config();
    doc[cloud] = { ...doc[cloud], [section]: configSection(d.id, own) };
    return doc;
  }, {}),
);

/** No I/O while fuzzing: every resource reads as gone, and a write would be a bug. */
export const offline = (r: AnyRemediator): AnyRemediator => ({
  ...r,
  read: async () => ({ kind: 'gone' }),
  apply: async () => {
    throw new Error('fuzzing must not reach a write');
  },
});
