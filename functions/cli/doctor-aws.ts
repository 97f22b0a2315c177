/**
 * `atrest doctor` for aws.log-group-kms. For each configured key ARN (the default and each
 * `byRegion` entry): KMS `DescribeKey` in the key's own region — exists, `KeyState` Enabled,
 * `KeySpec` SYMMETRIC_DEFAULT, `KeyUsage` ENCRYPT_DECRYPT, and the key's region is the region it is
 * configured for — then `GetKeyPolicy` (`default`, the only policy name KMS has): some statement
 * must Allow the CloudWatch Logs service principal of that region (`logs.<region>.amazonaws.com`,
 * or `logs.amazonaws.com`) kms:Encrypt, kms:Decrypt and kms:GenerateDataKey, with wildcards
 * (`kms:Encrypt*`, `kms:*`) matched as IAM matches them, and no unconditional Deny may take it back.
 * Endpoint: the SDK's own `AWS_ENDPOINT_URL_KMS`; credentials: the SDK's default chain.
 */
import type { KeyMetadata } from '@aws-sdk/client-kms';
import { classifyAwsError } from '../aws/errors.ts';
import { bounded, CLI_LIMITS } from '../aws/http.ts';
import { type LogGroupKmsConfig, logGroupKmsConfig } from '../aws/log-group-kms/config.ts';
import type { Check, DoctorOptions } from './doctor-check.ts';

const FUNCTION_ID = 'aws.log-group-kms';
/** The calls CloudWatch Logs makes with the key (AWS docs: "Encrypt log data in CloudWatch Logs using AWS KMS"). */
const LOGS_KEY_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'] as const;

const KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;

interface KeyFacts {
  partition: string;
  region: string;
  account: string;
}

const factsOf = (arn: string): KeyFacts | undefined => {
  const m = KEY_ARN.exec(arn);
  return m ? { partition: m[1] ?? 'aws', region: m[2] ?? '', account: m[3] ?? '' } : undefined;
};

// ------------------------------------------------------------------------------------------------
// Key policy analysis (pure)
// ------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

const asList = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** IAM's action wildcards (`*`, `?`), case-insensitive. */
const actionMatches = (pattern: string, action: string): boolean => {
  const regex = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${regex}$`, 'i').test(action);
};

/** The service principal names CloudWatch Logs uses in a region (China regions end in `.com.cn`). */
function logsPrincipals(region: string): string[] {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return [`logs.${region}.${suffix}`, `logs.${suffix}`];
}

function principalMatches(principal: unknown, services: readonly string[]): boolean {
  if (principal === '*') return true;
  if (typeof principal !== 'object' || principal === null) return false;
  const p = principal as Json;
  if (asList(p.AWS).includes('*')) return true;
  return asList(p.Service).some((s) => typeof s === 'string' && services.includes(s));
}

function statementCovers(statement: Json, action: string): boolean {
  if (statement.NotAction !== undefined)
    return !asList(statement.NotAction).some((p) => typeof p === 'string' && actionMatches(p, action));
  return asList(statement.Action).some((p) => typeof p === 'string' && actionMatches(p, action));
}

export type PolicyVerdict =
  | { ok: true; statements: string[] }
  | { ok: false; missing: string[]; reason: string };

/** Whether the key policy lets CloudWatch Logs of `region` use the key for every action it needs. */
export function analyzeKeyPolicy(policyText: string, region: string): PolicyVerdict {
  let policy: Json;
  try {
    policy = JSON.parse(policyText) as Json;
  } catch {
    return { ok: false, missing: [...LOGS_KEY_ACTIONS], reason: 'the key policy is not valid JSON' };
  }
  const services = logsPrincipals(region);
  const statements = asList(policy.Statement).filter((s): s is Json => typeof s === 'object' && s !== null);
  const forLogs = statements.filter(
    (s) => s.NotPrincipal === undefined && principalMatches(s.Principal, services),
  );
  const allows = forLogs.filter((s) => s.Effect === 'Allow');
  // An unconditional Deny wins over any Allow; a conditional one may not apply, so it is not counted.
  const denies = forLogs.filter((s) => s.Effect === 'Deny' && s.Condition === undefined);
  const missing = LOGS_KEY_ACTIONS.filter(
    (action) =>
      !allows.some((s) => statementCovers(s, action)) || denies.some((s) => statementCovers(s, action)),
  );
  if (missing.length > 0) {
    const denied = LOGS_KEY_ACTIONS.filter((action) => denies.some((s) => statementCovers(s, action)));
    return {
      ok: false,
      missing,
      reason:
        denied.length > 0
          ? `a Deny statement takes ${denied.join(', ')} away from ${services[0]}`
          : `no statement allows ${services[0]} ${missing.join(', ')}`,
    };
  }
  const names = allows
    .filter((s) => LOGS_KEY_ACTIONS.some((a) => statementCovers(s, a)))
    .map((s, i) => (typeof s.Sid === 'string' ? s.Sid : `#${i + 1}`));
  return { ok: true, statements: names };
}

/** The statement atrest's own stack puts in the key policy (infra/aws), for the fix line. */
export function logsStatement(facts: KeyFacts): Json {
  const suffix = facts.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return {
    Sid: 'AllowCloudWatchLogs',
    Effect: 'Allow',
    Principal: { Service: `logs.${facts.region}.${suffix}` },
    Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    Resource: '*',
    Condition: {
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': `arn:${facts.partition}:logs:${facts.region}:${facts.account}:log-group:*`,
      },
    },
  };
}

// ------------------------------------------------------------------------------------------------
// The checks (I/O)
// ------------------------------------------------------------------------------------------------

type KmsModule = typeof import('@aws-sdk/client-kms');

interface Use {
  field: string;
  /** The region the config uses the key in. */
  region: string;
}

/** Every configured key ARN with the fields and regions that use it (the section's own `keys`). */
function keyUses(section: LogGroupKmsConfig): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  for (const { key, field, region } of logGroupKmsConfig.keys?.(section, []) ?? [])
    uses.set(key, [...(uses.get(key) ?? []), { field, region: region ?? '' }]);
  return uses;
}

/** Every region the function serves: the configured keys' regions and the `--region` flags. */
export function awsRegions(section: LogGroupKmsConfig, flags: readonly string[]): string[] {
  const regions = new Set(flags);
  const own = factsOf(section.kmsKeyArn)?.region;
  if (own) regions.add(own);
  for (const region of Object.keys(section.byRegion ?? {})) regions.add(region);
  return [...regions].sort();
}

export async function* checkAws(
  section: LogGroupKmsConfig,
  options: Pick<DoctorOptions, 'regions'>,
): AsyncGenerator<Check> {
  const label = (region: string, what: string) => `${FUNCTION_ID}@${region} ${what}`;

  // Regions the operator named: each must have a key of its own region, else its events end `excluded`.
  for (const region of options.regions) {
    const arn = section.byRegion?.[region] ?? section.kmsKeyArn;
    const keyRegion = factsOf(arn)?.region;
    if (keyRegion === region) yield { status: 'ok', check: label(region, 'key-for-region'), detail: arn };
    else
      yield {
        status: 'FAIL',
        check: label(region, 'key-for-region'),
        detail: `no key for ${region}: the default key is in ${keyRegion}, and a KMS key serves only its own region (events there end "excluded")`,
        fix: `create a key in ${region} and set aws.logGroupKms.byRegion.${region} to its ARN`,
      };
  }

  let kms: KmsModule | undefined;
  const clients = new Map<string, InstanceType<KmsModule['KMSClient']>>();
  for (const [arn, uses] of keyUses(section)) {
    const facts = factsOf(arn);
    if (!facts) continue; // The config schema already refuses a malformed ARN.
    const at = (what: string) => label(facts.region, what);
    for (const use of uses) {
      if (use.region === facts.region) continue;
      yield {
        status: 'FAIL',
        check: label(use.region, 'key-region'),
        detail: `${use.field} is ${arn}, a key in ${facts.region}; AssociateKmsKey in ${use.region} can only fail`,
        fix: `set ${use.field} to a key in ${use.region}`,
      };
    }

    kms ??= await import('@aws-sdk/client-kms');
    let client = clients.get(facts.region);
    if (!client) {
      client = bounded(new kms.KMSClient({ region: facts.region }), CLI_LIMITS);
      clients.set(facts.region, client);
    }
    const fields = uses.map((u) => u.field).join(', ');

    let metadata: KeyMetadata;
    try {
      const out = await client.send(new kms.DescribeKeyCommand({ KeyId: arn }));
      if (!out.KeyMetadata) throw new Error('DescribeKey answered without KeyMetadata');
      metadata = out.KeyMetadata;
    } catch (error) {
      yield describeFailure(at('key-exists'), arn, fields, facts.region, error);
      continue;
    }
    yield {
      status: 'ok',
      check: at('key-exists'),
      detail: `${arn} (${fields}; ${metadata.KeyManager ?? 'CUSTOMER'} managed)`,
    };

    const state = metadata.KeyState ?? 'Unknown';
    yield state === 'Enabled'
      ? { status: 'ok', check: at('key-enabled'), detail: `${arn} KeyState=Enabled` }
      : {
          status: 'FAIL',
          check: at('key-enabled'),
          detail: `${arn} KeyState=${state}: CloudWatch Logs cannot encrypt with it`,
          fix: enableFix(state, arn, facts.region),
        };

    const spec = metadata.KeySpec ?? metadata.CustomerMasterKeySpec ?? 'Unknown';
    yield spec === 'SYMMETRIC_DEFAULT'
      ? { status: 'ok', check: at('key-spec'), detail: `${arn} KeySpec=SYMMETRIC_DEFAULT` }
      : {
          status: 'FAIL',
          check: at('key-spec'),
          detail: `${arn} KeySpec=${spec}: CloudWatch Logs supports only symmetric encryption keys`,
          fix: `create a SYMMETRIC_DEFAULT key (aws kms create-key --key-spec SYMMETRIC_DEFAULT --key-usage ENCRYPT_DECRYPT --region ${facts.region}) and set ${fields} to its ARN`,
        };

    const usage = metadata.KeyUsage ?? 'Unknown';
    yield usage === 'ENCRYPT_DECRYPT'
      ? { status: 'ok', check: at('key-usage'), detail: `${arn} KeyUsage=ENCRYPT_DECRYPT` }
      : {
          status: 'FAIL',
          check: at('key-usage'),
          detail: `${arn} KeyUsage=${usage}: CloudWatch Logs needs ENCRYPT_DECRYPT`,
          fix: `use a key created with --key-usage ENCRYPT_DECRYPT and set ${fields} to its ARN`,
        };

    yield await policyCheck(client, kms, arn, facts, at('key-policy'));
  }

  yield {
    status: 'skip',
    check: `${FUNCTION_ID} permissions`,
    detail:
      'not checkable: CloudWatch Logs AssociateKmsKey and DescribeLogGroups have no DryRun parameter; the deployed role is built from functions/aws/log-group-kms/permissions.ts',
    fix: 'after deploying, `atrest replay --remote events/aws/log-group-kms/create-log-group.json` exercises the real role',
  };
}

async function policyCheck(
  client: InstanceType<KmsModule['KMSClient']>,
  kms: KmsModule,
  arn: string,
  facts: KeyFacts,
  check: string,
): Promise<Check> {
  let policy: string;
  try {
    const out = await client.send(new kms.GetKeyPolicyCommand({ KeyId: arn, PolicyName: 'default' }));
    policy = out.Policy ?? '';
  } catch (error) {
    const e = classifyAwsError(error);
    return {
      status: 'FAIL',
      check,
      detail: `${arn}: GetKeyPolicy failed: ${e.code}: ${e.message}`,
      fix:
        e.code === 'AccessDeniedException'
          ? `allow kms:GetKeyPolicy on ${arn} to the identity running doctor`
          : 'run doctor again; if it persists, read the key policy in the KMS console',
    };
  }
  const verdict = analyzeKeyPolicy(policy, facts.region);
  if (verdict.ok)
    return {
      status: 'ok',
      check,
      detail: `${arn}: ${logsPrincipals(facts.region)[0]} may ${LOGS_KEY_ACTIONS.join(', ')} (statement ${verdict.statements.join(', ')})`,
    };
  return {
    status: 'FAIL',
    check,
    detail: `${arn}: ${verdict.reason}; AssociateKmsKey will fail with AccessDeniedException`,
    fix: `add this statement to the key policy: ${JSON.stringify(logsStatement(facts))}`,
  };
}

function describeFailure(check: string, arn: string, fields: string, region: string, error: unknown): Check {
  const e = classifyAwsError(error);
  const detail = `${arn}: DescribeKey failed: ${e.code}: ${e.message}`;
  if (e.code === 'NotFoundException')
    return {
      status: 'FAIL',
      check,
      detail,
      fix: `create a symmetric key in ${region} (aws kms create-key --region ${region}) and set ${fields} to its ARN`,
    };
  if (e.code === 'AccessDeniedException')
    return {
      status: 'FAIL',
      check,
      detail,
      fix: `allow kms:DescribeKey on ${arn} to the identity running doctor`,
    };
  return { status: 'FAIL', check, detail, fix: 'check credentials and network, then run doctor again' };
}

function enableFix(state: string, arn: string, region: string): string {
  if (state === 'Disabled') return `aws kms enable-key --key-id ${arn} --region ${region}`;
  if (state === 'PendingDeletion')
    return `aws kms cancel-key-deletion --key-id ${arn} --region ${region}, then aws kms enable-key --key-id ${arn} --region ${region}`;
  if (state === 'PendingImport') return `import the key material (aws kms import-key-material) for ${arn}`;
  return `make ${arn} Enabled, or set the config to an enabled symmetric key`;
}
