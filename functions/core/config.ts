/**
 * The config document (CONTRACT.md section 3), validated strictly at start-up: an unknown or
 * misspelt key is an error that names it, so a typo never silently switches a function off. The
 * CLI reads `--config FILE` or `$ATREST_CONFIG`; a deployed function reads `$ATREST_CONFIG_JSON`.
 * A function whose section is absent is switched off (its events end `ignored`).
 *
 * Core knows no function's section. Each function folder's `config.ts` defines its own
 * (`defineSection`: schema, cross-field rules, accessor) and its manifest carries it; core holds
 * only what every section or the whole document shares (exclude patterns, enforcement, delivery,
 * region maps, idempotency, retry, organization) and `composeConfig`, which builds the document
 * from the sections it is given: functions/config.ts from every manifest (CLI, infra, tests), a
 * deployed handler from its own. Every schema is built on first use (`once`): importing this, a
 * manifest or a handler builds none (cold start, DESIGN.md "Budgets").
 */
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import * as z from 'zod/mini';
import { ConfigError } from './errors.ts';
import { once } from './once.ts';
import { didYouMean } from './spelling.ts';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION, AWS_ACCOUNT, AWS_REGION, formatIssues } from './validation.ts';

/** The clouds atrest runs on (here, not in manifest.ts, which imports this file's types). */
export type Cloud = 'aws' | 'alicloud';

/** A non-empty string of at most 2 KB (ids, key ids, ARNs). */
export const nonEmpty = () => z.string().check(z.minLength(1), z.maxLength(2048));

/**
 * Exclude patterns are RE2 syntax, matched by re2js (a linear-time automaton, pure JS): a pattern
 * can never backtrack, so `(a+)+$` on a long name costs as much as `a+$`. RE2 has no lookaround
 * and no backreferences; a pattern using them (or not compiling at all) is a config error that
 * names the field and the pattern, at load time rather than on the first matching event.
 */
/** A compiled pattern: whatever engine runs it, a yes/no answer in time linear in the name. */
interface Matcher {
  test(name: string): boolean;
}

const compiled = new Map<string, Matcher>();
let engine: typeof RE2JS | undefined;

/**
 * re2js costs ~15 ms of import (its Unicode tables), so it is loaded on the first pattern that
 * needs it, not with the module. The literal `require('re2js')` is what esbuild bundles (a lazily
 * initialised module; the ESM bundle defines `require` in its banner). Unbundled under Node ESM
 * (tests, the CLI) `require` is absent: the package is resolved from the running script (no
 * `import.meta`, which a CommonJS bundle lacks).
 */
function re2(): typeof RE2JS {
  if (engine === undefined) {
    const load = typeof require === 'function' ? require('re2js') : requireUnbundled('re2js');
    engine = (load as { RE2JS: typeof RE2JS }).RE2JS;
  }
  return engine;
}

/**
 * Patterns made only of literals, escaped punctuation, `.`, `\d` `\w` (and their negations),
 * top-level `|`, a leading `^` and a trailing `$` — no quantifier, no group, no class — cannot
 * backtrack more than once per branch and position, and mean the same in RE2 and JavaScript (all
 * are valid RE2). The usual prefix and suffix excludes (`^/aws/lambda/atrest-`, `-test$`) are such
 * patterns: they run on the built-in engine, and re2js is never loaded for them.
 */
const PLAIN_BRANCH = /^\^?(?:[^\\.[\]{}()*+?^$|]|\\[!-/:-@[-`{-~]|\\[dwDW]|\.)*\$?$/;

function isPlain(pattern: string): boolean {
  return pattern.split('|').every((branch) => branch !== '' && PLAIN_BRANCH.test(branch));
}

/** From the running script (bin/atrest.mjs, vitest, tsx), else from the working directory. */
function requireUnbundled(name: string): unknown {
  try {
    return createRequire(process.argv[1] ?? `${process.cwd()}/`)(name);
  } catch {
    return createRequire(`${process.cwd()}/`)(name);
  }
}

function compilePattern(pattern: string): Matcher {
  let matcher = compiled.get(pattern);
  if (matcher === undefined) {
    if (isPlain(pattern)) matcher = new RegExp(pattern);
    else {
      const re = re2().compile(pattern);
      matcher = { test: (name) => re.matcher(name).find() };
    }
    compiled.set(pattern, matcher);
  }
  return matcher;
}

/** `exclude`: RE2 patterns (see above), each compiled when the config is parsed. */
export const excludePatterns = once(() =>
  z.array(
    z.string().check(
      z.minLength(1),
      z.maxLength(512),
      z.check((ctx) => {
        try {
          compilePattern(ctx.value);
        } catch (error) {
          const why = (error as Error).message.split('\n')[0] ?? 'does not compile';
          ctx.issues.push({
            code: 'custom',
            input: ctx.value,
            message: `not a valid RE2 pattern ${JSON.stringify(ctx.value)} (${why})`,
          });
        }
      }),
    ),
  ),
);

/**
 * Tamper restore (every function): `enforce` "always" (default) also restores the configured
 * encryption when someone removes or weakens it; "create" acts on creations only. A resource is
 * restored at most `maxRestoresPerHour` times per clock hour (default 3); past that its tamper
 * events end `failed` with `EnforcementLoop`, so two automations fighting over it cannot drain the
 * API quota. Spread into each section: `...enforcement()`.
 */
export const ENFORCE_MODES = ['always', 'create'] as const;
export const DEFAULT_MAX_RESTORES_PER_HOUR = 3;
export const enforcement = once(() => ({
  enforce: z.optional(z.enum(ENFORCE_MODES)),
  maxRestoresPerHour: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1000))),
}));

/**
 * Which delivery paths are deployed for an Alibaba Cloud function: `eventbridge` (ActionTrail
 * events on the default bus), `trail` (an FC SLS trigger on a trail's logstore), or both. The
 * default is each function's own (its events.ts `DEFAULT_DELIVERY`): both where EventBridge
 * support for its service is undocumented. Idempotency makes a record that arrives twice one
 * piece of work.
 */
const DELIVERY_PATHS = ['eventbridge', 'trail'] as const;
export const delivery = once(() =>
  z.array(z.enum(DELIVERY_PATHS)).check(
    z.minLength(1),
    z.maxLength(2),
    z.refine((paths) => new Set(paths).size === paths.length, 'each path at most once'),
  ),
);

/** Per-region values keyed by a region id of the cloud (a key is regional). */
export const awsRegionMap = <T extends z.ZodMiniType>(value: T) =>
  z.record(z.string().check(z.regex(AWS_REGION)), value);
export const aliRegionMap = <T extends z.ZodMiniType>(value: T) =>
  z.record(z.string().check(z.regex(ALICLOUD_REGION)), value);

export const IdempotencyConfig = once(() =>
  z.strictObject({
    /** How long a completed record turns later deliveries into `duplicate`. Default 3600 s. */
    ttlSeconds: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(7 * 86_400))),
  }),
);

export const RetryConfig = once(() =>
  z.strictObject({
    maxAttempts: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(50))),
    baseMs: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(60_000))),
    capMs: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(600_000))),
  }),
);

/**
 * One cloud's organization (CONTRACT.md section 7): without it a function and the CLI act on
 * their own account only. With it, another account's resources are reached through
 * `<memberRoleName>` in that account (STS AssumeRole).
 */
const organizationConfig = (account: RegExp, region: RegExp) =>
  z.strictObject({
    /** The role each member account holds for atrest (deployed by the member StackSet / stack group). */
    memberRoleName: z.string().check(z.regex(/^[A-Za-z0-9+=,.@_-]{1,64}$/)),
    /** Where `--org` sweeps and reports by default. */
    regions: z.array(z.string().check(z.regex(region))).check(z.minLength(1)),
    /** Accounts atrest never acts on (their events end `excluded`; `--org` skips them). */
    excludeAccounts: z.optional(z.array(z.string().check(z.regex(account)))),
  });

const ORGANIZATION = {
  aws: once(() => organizationConfig(AWS_ACCOUNT, AWS_REGION)),
  alicloud: once(() => organizationConfig(ALICLOUD_ACCOUNT, ALICLOUD_REGION)),
} satisfies Record<Cloud, unknown>;

/** The clouds in document order (`aws` before `alicloud`, as error lines have always come). */
const CLOUDS: readonly Cloud[] = ['aws', 'alicloud'];

export type IdempotencyConfig = z.infer<ReturnType<typeof IdempotencyConfig>>;
export type RetryConfig = z.infer<ReturnType<typeof RetryConfig>>;
export type OrganizationConfig = z.infer<ReturnType<(typeof ORGANIZATION)['aws']>>;

/** One cloud's part of the document as core sees it: its organization, and sections it does not know. */
export type CloudConfig = { organization?: OrganizationConfig; readonly [section: string]: unknown };

/**
 * The document as core sees it (engine, sweep, accounts, the adapters): the shared parts typed,
 * each function's section opaque (its folder's accessor, `ConfigSection.of`, types it). The
 * document typed section by section is functions/config.ts `Config`.
 */
export type Config = {
  aws?: CloudConfig;
  alicloud?: CloudConfig;
  idempotency?: IdempotencyConfig;
  retry?: RetryConfig;
};

/** A function's config section: where it sits, its schema, its cross-field rules. */
export interface ConfigSection<C extends Cloud = Cloud, S extends string = string, T = unknown> {
  readonly cloud: C;
  /** Its key under `<cloud>`: absent means the function is switched off. */
  readonly section: S;
  /** The section's strict schema, built on first use. */
  readonly schema: () => z.ZodMiniType<T>;
  /**
   * Cross-field rules a schema cannot say on its own, on a section that passed its schema: one
   * line per issue, each starting with `path` (`config.<cloud>.<section>`) and the field.
   */
  readonly rules?: (section: T, path: string) => string[];
  /** Its section of a parsed document (validated by a composer with this schema), or undefined when off. */
  readonly of: (config: Config | undefined) => T | undefined;
  /**
   * The KMS keys the section names, each where it is used: `atrest doctor` checks every one.
   * `regions` are the regions the operator named (`--region`, else the environment's); a key
   * used "in every region without its own entry" is listed once per such region, or once
   * without a region when none was named (the doctor then says to name one).
   */
  readonly keys?: (section: T, regions: readonly string[]) => KeyRef[];
  /** The regions it serves when none is named (`atrest sweep`/`report`), e.g. its own `regions` list. */
  readonly regions?: (section: T) => string[];
  /**
   * `atrest init`: the section the flags describe (validated afterwards with the whole document).
   * A flag it needs and did not get is a ConfigError whose one issue names the flag.
   */
  readonly starter?: (flags: StarterFlags) => T;
  /** `atrest init`: one line saying what the section does, printed after the file is written. */
  readonly summary?: (section: T) => string;
}

/** The flags of `atrest init` a section's starter reads. */
export interface StarterFlags {
  /** AWS key ARNs, one per region (the first is the default). */
  readonly awsKeys: readonly string[];
  /** The Alibaba Cloud KMS key id. */
  readonly alicloudKey?: string;
  /** Alibaba Cloud regions (the first is also a BYOK key's region). */
  readonly alicloudRegions: readonly string[];
  /** SLS BYOK: the role SLS assumes to use the key. */
  readonly logstoreRole?: string;
}

/** A KMS key a config section names (ConfigSection.keys). */
export interface KeyRef {
  /** The config path naming it, as the doctor prints it (`alicloud.clusterKms.byRegion.cn-beijing`). */
  readonly field: string;
  /** The key id or ARN. */
  readonly key: string;
  /** The region it is used in; absent when that region is not known (see ConfigSection.keys). */
  readonly region?: string;
  /** Alibaba Cloud: the key specs its service accepts, `aes256` only or any `symmetric` (default). */
  readonly need?: 'aes256' | 'symmetric';
  /** Why it cannot be checked at all (the doctor reports a skip saying so). */
  readonly unchecked?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: any section, whatever its cloud, name and type.
export type AnySection = ConfigSection<Cloud, string, any>;

/** The parsed type of a section. */
export type SectionType<S> = S extends ConfigSection<Cloud, string, infer T> ? T : never;

/** A function folder's config.ts: its section's place, schema (built once, on first use) and rules. */
export function defineSection<
  const C extends Cloud,
  const S extends string,
  Z extends z.ZodMiniType,
>(definition: {
  cloud: C;
  section: S;
  schema: () => Z;
  rules?: (section: z.output<Z>, path: string) => string[];
  keys?: (section: z.output<Z>, regions: readonly string[]) => KeyRef[];
  regions?: (section: z.output<Z>) => string[];
  starter?: (flags: StarterFlags) => z.output<Z>;
  summary?: (section: z.output<Z>) => string;
}): ConfigSection<C, S, z.output<Z>> {
  const { cloud, section, rules, keys, regions, starter, summary } = definition;
  return {
    cloud,
    section,
    schema: once(definition.schema) as () => z.ZodMiniType<z.output<Z>>,
    ...(rules ? { rules } : {}),
    ...(keys ? { keys } : {}),
    ...(regions ? { regions } : {}),
    ...(starter ? { starter } : {}),
    ...(summary ? { summary } : {}),
    // Trusted: a composer validated this key with this section's schema.
    of: (config) => config?.[cloud]?.[section] as z.output<Z> | undefined,
  };
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** One cloud's part of the document composed from `Sections`, typed section by section. */
type CloudOf<Sections extends AnySection, C extends Cloud> = Simplify<
  { organization?: OrganizationConfig } & {
    [S in Sections as S['cloud'] extends C ? S['section'] : never]?: SectionType<S>;
  }
>;

/** The document composed from `Sections`. */
export type ComposedConfig<Sections extends AnySection> = {
  aws?: CloudOf<Sections, 'aws'>;
  alicloud?: CloudOf<Sections, 'alicloud'>;
  idempotency?: IdempotencyConfig;
  retry?: RetryConfig;
};

export interface ConfigComposer<D> {
  /** The document's schema (fuzzing reads it), built on first use. */
  readonly schema: () => z.ZodMiniType<D>;
  /** Validates a parsed JSON value; throws ConfigError naming every bad field. */
  parseConfig(value: unknown): D;
  /** Parses JSON text; a syntax error is a ConfigError too, with the source named. */
  parseConfigJson(text: string, source: string): D;
  /** A deployed function's config: `$ATREST_CONFIG_JSON`, required. */
  configFromEnv(env?: Record<string, string | undefined>): D;
}

export interface ComposeOptions {
  /**
   * A deployed handler composes only its own section (`"own"`): its section and the shared parts
   * are as strict as ever, while other keys under a cloud — other functions' sections, which its
   * deployment never receives (infra passes each function its own) but a whole document handed
   * to it carries — pass unread: their schemas are not its to load. Default `"all"`: every key
   * under a cloud must be one of the sections given.
   */
  scope?: 'all' | 'own';
}

/**
 * The document from `sections` (each `<cloud>.<section>` once): strict at every level, the
 * sections in the order given, each section's rules run once the schema passes. Two definitions of
 * one key are a programming error, thrown here rather than when the first config is read (one
 * definition given twice, by two functions sharing it, is that key once).
 */
export function composeConfig<const Sections extends AnySection>(
  given: readonly Sections[],
  options: ComposeOptions = {},
): ConfigComposer<ComposedConfig<Sections>> {
  type D = ComposedConfig<Sections>;
  // Functions may share one section (the same definition, given by each manifest): it is one key.
  const sections = [...new Set(given)];
  const seen = new Set<string>();
  for (const { cloud, section } of sections) {
    const key = `${cloud}.${section}`;
    if (section === 'organization' || seen.has(key))
      throw new Error(`config section ${key} is defined twice (or shadows a shared key)`);
    seen.add(key);
  }
  const own = options.scope === 'own';

  const schema = once(() => {
    const clouds: Record<string, z.ZodMiniType> = {};
    for (const cloud of CLOUDS) {
      const shape: Record<string, z.ZodMiniType> = { organization: z.optional(ORGANIZATION[cloud]()) };
      for (const s of sections) if (s.cloud === cloud) shape[s.section] = z.optional(s.schema());
      clouds[cloud] = z.optional(own ? z.looseObject(shape) : z.strictObject(shape));
    }
    return z.strictObject({
      ...clouds,
      idempotency: z.optional(IdempotencyConfig()),
      retry: z.optional(RetryConfig()),
    }) as unknown as z.ZodMiniType<D>;
  });

  const parseConfig = (value: unknown): D => {
    const result = schema().safeParse(value);
    if (!result.success) throw new ConfigError(formatIssues(result.error.issues, 'config'));
    const issues: string[] = own ? misspeltSections(result.data as Config, sections) : [];
    for (const s of sections) {
      const section = s.of(result.data as Config);
      if (section !== undefined && s.rules)
        issues.push(...s.rules(section, `config.${s.cloud}.${s.section}`));
    }
    if (issues.length > 0) throw new ConfigError(issues);
    return result.data;
  };

  const parseConfigJson = (text: string, source: string): D => {
    let value: unknown;
    try {
      // A file saved with a UTF-8 byte-order mark is still JSON (and the mark must not end up,
      // invisible, in an error message).
      value = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (error) {
      throw new ConfigError([`${source}: not valid JSON (${(error as Error).message})`], { cause: error });
    }
    return parseConfig(value);
  };

  const configFromEnv = (env: Record<string, string | undefined> = process.env): D => {
    const text = env.ATREST_CONFIG_JSON;
    if (text === undefined || text.trim() === '')
      throw new ConfigError(['ATREST_CONFIG_JSON: not set (the deployment must pass the config)']);
    return parseConfigJson(text, 'ATREST_CONFIG_JSON');
  };

  return { schema, parseConfig, parseConfigJson, configFromEnv };
}

/**
 * A deployed handler lets other functions' sections pass unread, but not its own section under a
 * misspelt name: that would switch the function off (every event `ignored`) instead of failing
 * start-up. An unknown key within a typo of one of its own section names is an error naming it.
 */
function misspeltSections(config: Config, sections: readonly AnySection[]): string[] {
  const issues: string[] = [];
  for (const cloud of CLOUDS) {
    const given = (config as Record<string, Record<string, unknown> | undefined>)[cloud];
    if (given === undefined) continue;
    const names = sections.filter((s) => s.cloud === cloud).map((s) => s.section);
    for (const key of Object.keys(given)) {
      if (key === 'organization' || names.includes(key)) continue;
      const meant = didYouMean(key, names);
      if (meant !== undefined)
        issues.push(`config.${cloud}: unknown key "${key}" — did you mean "${meant}"?`);
    }
  }
  return issues;
}

/**
 * The first exclude pattern that matches `name` (RE2 search semantics, like `RegExp.test`: anywhere
 * in the name unless anchored), for the reason line; linear in the name's length whatever the pattern.
 */
/** Exported for tests: whether `pattern` runs on the built-in engine (see PLAIN_BRANCH). */
export const isPlainPattern = (pattern: string): boolean => isPlain(pattern);

export function excludedBy(name: string, exclude: readonly string[] | undefined): string | undefined {
  return exclude?.find((p) => compilePattern(p).test(name));
}
