/**
 * The config document (CONTRACT.md section 3), validated strictly at start-up: an unknown or
 * misspelt key is an error that names it, so a typo never silently switches a function off. The
 * CLI reads `--config FILE` or `$ATREST_CONFIG`; a deployed function reads `$ATREST_CONFIG_JSON`.
 * A function whose section is absent is switched off (its events end `ignored`).
 */
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import * as z from 'zod/mini';
import { ConfigError } from './errors.ts';
import { ALICLOUD_ACCOUNT, ALICLOUD_REGION, AWS_ACCOUNT, AWS_REGION, formatIssues } from './validation.ts';

const nonEmpty = () => z.string().check(z.minLength(1), z.maxLength(2048));

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

const patterns = z.array(
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
);

/**
 * Tamper restore (every function): `enforce` "always" (default) also restores the configured
 * encryption when someone removes or weakens it; "create" acts on creations only. A resource is
 * restored at most `maxRestoresPerHour` times per clock hour (default 3); past that its tamper
 * events end `failed` with `EnforcementLoop`, so two automations fighting over it cannot drain the
 * API quota.
 */
export const ENFORCE_MODES = ['always', 'create'] as const;
export const DEFAULT_MAX_RESTORES_PER_HOUR = 3;
const enforcement = {
  enforce: z.optional(z.enum(ENFORCE_MODES)),
  maxRestoresPerHour: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1000))),
};

/**
 * Which delivery paths are deployed for an Alibaba Cloud function: `eventbridge` (ActionTrail
 * events on the default bus), `trail` (an FC SLS trigger on a trail's logstore), or both. The
 * default is each function's own (its events.ts `DEFAULT_DELIVERY`): both where EventBridge
 * support for its service is undocumented. Idempotency makes a record that arrives twice one
 * piece of work.
 */
export const DELIVERY_PATHS = ['eventbridge', 'trail'] as const;
const delivery = z.array(z.enum(DELIVERY_PATHS)).check(
  z.minLength(1),
  z.maxLength(2),
  z.refine((paths) => new Set(paths).size === paths.length, 'each path at most once'),
);

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
/** A key alias (`alias/x`, `arn:…:alias/x`) gets its own message instead of the bare pattern. */
const KMS_ALIAS = /(^|:)alias\//;
const awsKeyArn = z.string().check(
  z.refine((v) => !KMS_ALIAS.test(v), {
    // CloudWatch Logs AssociateKmsKey takes a key ARN only, and doctor compares key ARNs.
    message:
      'is a key alias; atrest needs the key ARN (arn:aws:kms:<region>:<account>:key/<key id>); look it up with: aws kms describe-key --key-id <alias> --query KeyMetadata.Arn',
    abort: true,
  }),
  z.regex(KMS_KEY_ARN),
);
const aliKeyId = nonEmpty();

const awsRegionMap = <T extends z.ZodMiniType>(value: T) =>
  z.record(z.string().check(z.regex(AWS_REGION)), value);
const aliRegionMap = <T extends z.ZodMiniType>(value: T) =>
  z.record(z.string().check(z.regex(ALICLOUD_REGION)), value);

export const LogGroupKmsConfig = z.strictObject({
  /** The key for every region without a `byRegion` entry. Must be a symmetric key ARN (AssociateKmsKey takes ARNs only). */
  kmsKeyArn: awsKeyArn,
  /** Per-region key ARNs; a key is regional, so multi-region deployments need one per region. */
  byRegion: z.optional(awsRegionMap(awsKeyArn)),
  /** Log group names matching any of these regular expressions are left alone. */
  exclude: z.optional(patterns),
  ...enforcement,
});

export const ENCRYPT_TYPES = [
  'default',
  'm4',
  'sm4_ecb',
  'sm4_cbc',
  'sm4_gcm',
  'aes_ecb',
  'aes_cbc',
  'aes_cfb',
  'aes_ofb',
  'aes_gcm',
] as const;

export const UserCmkInfo = z.strictObject({
  keyId: nonEmpty(),
  roleArn: z.string().check(z.regex(/^acs:ram::\d+:role\/[A-Za-z0-9._-]+$/)),
  regionId: z.string().check(z.regex(ALICLOUD_REGION)),
});

export const LogstoreEncryptionConfig = z.strictObject({
  /** SLS encryption algorithm; `default` is AES-256. Immutable once set on a logstore. */
  encryptType: z.enum(ENCRYPT_TYPES),
  /** Bring-your-own-key; absent means the SLS service key. Immutable once set. */
  userCmkInfo: z.optional(UserCmkInfo),
  /** Per-region BYOK overrides (a KMS key lives in one region). */
  byRegion: z.optional(aliRegionMap(UserCmkInfo)),
  /** `project/logstore` names matching any of these regular expressions are left alone. */
  exclude: z.optional(patterns),
  ...enforcement,
  /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
  delivery: z.optional(delivery),
});

export const ClusterKmsConfig = z.strictObject({
  kmsKeyId: aliKeyId,
  byRegion: z.optional(aliRegionMap(aliKeyId)),
  /** Cluster ids or names matching any of these regular expressions are left alone. */
  exclude: z.optional(patterns),
  /** How long a cluster may stay not-ready before the event fails. Default 120 minutes. */
  deferDeadlineMinutes: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1440))),
  ...enforcement,
  /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
  delivery: z.optional(delivery),
});

export const TableBucketEncryptionConfig = z.strictObject({
  /**
   * `AES256` (OSS-managed keys), the only value accepted: the PutTableBucketEncryption API
   * reference says "Currently, only the AES256 encryption algorithm is supported". `KMS` stays in
   * the type because GetTableBucketEncryption may report it, and is refused in semanticIssues.
   */
  sseAlgorithm: z.enum(['AES256', 'KMS']),
  kmsKeyArn: z.optional(nonEmpty()),
  exclude: z.optional(patterns),
  ...enforcement,
  /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
  delivery: z.optional(delivery),
});

export const DiskDefaultKmsConfig = z.strictObject({
  kmsKeyId: aliKeyId,
  byRegion: z.optional(aliRegionMap(aliKeyId)),
  /** Regions the timer checks. Default: the regions named in `byRegion`. */
  regions: z.optional(z.array(z.string().check(z.regex(ALICLOUD_REGION)))),
  /** Turn account-level default disk encryption on where it is off. Default false (→ `excluded`). */
  enableIfDisabled: z.optional(z.boolean()),
  ...enforcement,
  /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
  delivery: z.optional(delivery),
});

export const IdempotencyConfig = z.strictObject({
  /** How long a completed record turns later deliveries into `duplicate`. Default 3600 s. */
  ttlSeconds: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(7 * 86_400))),
});

export const RetryConfig = z.strictObject({
  maxAttempts: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(50))),
  baseMs: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(60_000))),
  capMs: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(600_000))),
});

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

export const AwsOrganizationConfig = organizationConfig(AWS_ACCOUNT, AWS_REGION);
export const AlicloudOrganizationConfig = organizationConfig(ALICLOUD_ACCOUNT, ALICLOUD_REGION);

export const Config = z.strictObject({
  aws: z.optional(
    z.strictObject({
      organization: z.optional(AwsOrganizationConfig),
      logGroupKms: z.optional(LogGroupKmsConfig),
    }),
  ),
  alicloud: z.optional(
    z.strictObject({
      organization: z.optional(AlicloudOrganizationConfig),
      logstoreEncryption: z.optional(LogstoreEncryptionConfig),
      clusterKms: z.optional(ClusterKmsConfig),
      tableBucketEncryption: z.optional(TableBucketEncryptionConfig),
      diskDefaultKms: z.optional(DiskDefaultKmsConfig),
    }),
  ),
  idempotency: z.optional(IdempotencyConfig),
  retry: z.optional(RetryConfig),
});

export type Config = z.infer<typeof Config>;
export type OrganizationConfig = z.infer<typeof AwsOrganizationConfig>;
export type LogGroupKmsConfig = z.infer<typeof LogGroupKmsConfig>;
export type LogstoreEncryptionConfig = z.infer<typeof LogstoreEncryptionConfig>;
export type ClusterKmsConfig = z.infer<typeof ClusterKmsConfig>;
export type TableBucketEncryptionConfig = z.infer<typeof TableBucketEncryptionConfig>;
export type DiskDefaultKmsConfig = z.infer<typeof DiskDefaultKmsConfig>;

/** Validates a parsed JSON value; throws ConfigError naming every bad field. */
export function parseConfig(value: unknown): Config {
  const result = Config.safeParse(value);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, 'config'));
  const extra = semanticIssues(result.data);
  if (extra.length > 0) throw new ConfigError(extra);
  return result.data;
}

/** Cross-field rules a schema cannot say on its own. */
function semanticIssues(config: Config): string[] {
  const issues: string[] = [];
  const tb = config.alicloud?.tableBucketEncryption;
  if (tb?.sseAlgorithm === 'KMS')
    issues.push(
      'config.alicloud.tableBucketEncryption.sseAlgorithm: "KMS" is not accepted by OSS Tables: the PutTableBucketEncryption API reference says "Currently, only the AES256 encryption algorithm is supported"; set "AES256" (every bucket would end failed otherwise)',
    );
  if (tb?.kmsKeyArn !== undefined)
    issues.push(
      'config.alicloud.tableBucketEncryption.kmsKeyArn: not allowed: OSS Tables supports only AES256 (OSS-managed keys), which takes no key',
    );
  return issues;
}

/** Parses JSON text; a syntax error is a ConfigError too, with the source named. */
export function parseConfigJson(text: string, source: string): Config {
  let value: unknown;
  try {
    // A file saved with a UTF-8 byte-order mark is still JSON (and the mark must not end up,
    // invisible, in an error message).
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ConfigError([`${source}: not valid JSON (${(error as Error).message})`], { cause: error });
  }
  return parseConfig(value);
}

/** A deployed function's config: `$ATREST_CONFIG_JSON`, required. */
export function configFromEnv(env: Record<string, string | undefined> = process.env): Config {
  const text = env.ATREST_CONFIG_JSON;
  if (text === undefined || text.trim() === '')
    throw new ConfigError(['ATREST_CONFIG_JSON: not set (the deployment must pass the config)']);
  return parseConfigJson(text, 'ATREST_CONFIG_JSON');
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
