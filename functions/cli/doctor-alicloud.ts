/**
 * `atrest doctor` for the Alibaba Cloud functions: KMS `DescribeKey` (RPC, API 2016-01-20, ACS3
 * signed through functions/alicloud/openapi.ts; endpoint `kms.<region>.aliyuncs.com` or
 * `ALIBABA_CLOUD_ENDPOINT_KMS`) for every configured key, in the region it is used in:
 * `KeyState` Enabled, `KeyUsage` ENCRYPT/DECRYPT, and the spec the service accepts — ACK secret
 * encryption needs exactly Aliyun_AES_256; ECS default disk encryption and SLS BYOK need a
 * symmetric key (Aliyun_AES_256/192/128, Aliyun_SM4).
 *
 * Keys named by region (`byRegion`, `userCmkInfo.regionId`) are checked there. A default key
 * (`clusterKms.kmsKeyId`, `diskDefaultKms.kmsKeyId`) is checked in the regions it serves: the
 * `--region` flags (else `$ALIBABA_CLOUD_REGION_ID`) and, for disks, the config's own `regions`.
 */

import { ConfigError, type RemediationError } from '#core/errors';
import type { FunctionManifest } from '#core/manifest';
import type { FunctionId } from '#core/outcome';
import { type AlicloudCredentials, credentialsFrom } from '../alicloud/clients.ts';
import { type AlicloudApi, classifyAlicloud, createAlicloudApi } from '../alicloud/openapi.ts';
import type { Config } from '../config.ts';
import { manifestOf, manifestsOf } from '../manifests.ts';
import { checkAlicloudDelivery } from './doctor-alicloud-delivery.ts';
import type { Check, DoctorOptions } from './doctor-check.ts';

const KMS_API_VERSION = '2016-01-20';
const SYMMETRIC_SPECS = ['Aliyun_AES_256', 'Aliyun_AES_192', 'Aliyun_AES_128', 'Aliyun_SM4'];

type Need = 'aes256' | 'symmetric';

export interface KeyUse {
  fn: FunctionId;
  /** The config field naming the key (for the fix line). */
  field: string;
  region: string;
  keyId: string;
  need: Need;
}

type AlicloudSection = NonNullable<Config['alicloud']>;

/**
 * Every (function, region, key) the config uses, plus checks for keys no region could be found
 * for: each configured section's own `keys` (its folder's config.ts), in manifest order. Pure.
 */
export function alicloudKeyUses(
  section: AlicloudSection,
  regions: readonly string[],
  manifests: readonly FunctionManifest[] = manifestsOf('alicloud'),
): { uses: KeyUse[]; problems: Check[] } {
  const uses: KeyUse[] = [];
  const problems: Check[] = [];
  for (const { id: fn, section: name, config } of manifests) {
    const own = (section as Record<string, unknown>)[name];
    if (own === undefined || config.keys === undefined) continue;
    for (const ref of config.keys(own, regions)) {
      if (ref.unchecked !== undefined)
        problems.push({
          status: 'skip',
          check: `${fn} key-exists`,
          detail: `not checkable: ${ref.unchecked}`,
        });
      else if (ref.region === undefined)
        problems.push({
          status: 'FAIL',
          check: `${fn} key-region`,
          detail: `${ref.field} (${ref.key}) is used in every region without a byRegion entry, and no such region was named`,
          fix: 'pass --region R for each region you deploy to (or set ALIBABA_CLOUD_REGION_ID)',
        });
      else
        uses.push({
          fn,
          field: ref.field,
          region: ref.region,
          keyId: ref.key,
          need: ref.need ?? 'symmetric',
        });
    }
  }
  return { uses, problems };
}

interface KeyMetadata {
  KeyState?: string;
  KeySpec?: string;
  KeyUsage?: string;
  Arn?: string;
}

/** Judges one key use against its metadata. Pure. */
export function keyChecks(use: KeyUse, key: KeyMetadata): Check[] {
  const at = (what: string) => `${use.fn}@${use.region} ${what}`;
  const id = use.keyId;
  const checks: Check[] = [];
  const state = key.KeyState ?? 'Unknown';
  checks.push(
    state === 'Enabled'
      ? { status: 'ok', check: at('key-enabled'), detail: `${id} KeyState=Enabled` }
      : {
          status: 'FAIL',
          check: at('key-enabled'),
          detail: `${id} KeyState=${state}: the service cannot use it`,
          fix:
            state === 'PendingDeletion'
              ? `aliyun kms CancelKeyDeletion --KeyId ${id} --region ${use.region}`
              : `aliyun kms EnableKey --KeyId ${id} --region ${use.region}`,
        },
  );
  const spec = key.KeySpec ?? 'Unknown';
  const specOk = use.need === 'aes256' ? spec === 'Aliyun_AES_256' : SYMMETRIC_SPECS.includes(spec);
  const wanted =
    use.need === 'aes256' ? 'Aliyun_AES_256 (ACK secret encryption accepts only that)' : 'a symmetric key';
  checks.push(
    specOk
      ? { status: 'ok', check: at('key-spec'), detail: `${id} KeySpec=${spec}` }
      : {
          status: 'FAIL',
          check: at('key-spec'),
          detail: `${id} KeySpec=${spec}: needs ${wanted}`,
          fix: `create a key with KeySpec Aliyun_AES_256 and KeyUsage ENCRYPT/DECRYPT in ${use.region} (aliyun kms CreateKey --KeySpec Aliyun_AES_256 --KeyUsage ENCRYPT/DECRYPT --region ${use.region}) and set ${use.field} to it`,
        },
  );
  const usage = key.KeyUsage ?? 'Unknown';
  checks.push(
    usage === 'ENCRYPT/DECRYPT'
      ? { status: 'ok', check: at('key-usage'), detail: `${id} KeyUsage=ENCRYPT/DECRYPT` }
      : {
          status: 'FAIL',
          check: at('key-usage'),
          detail: `${id} KeyUsage=${usage}: needs ENCRYPT/DECRYPT`,
          fix: `use a key created with KeyUsage ENCRYPT/DECRYPT and set ${use.field} to it`,
        },
  );
  return checks;
}

/** KMS DescribeKey through the shared ACS3 layer (RPC, 2016-01-20). */
async function describeKey(api: AlicloudApi, region: string, keyId: string): Promise<KeyMetadata> {
  const response = await api.rpc('KMS', region, 'DescribeKey', KMS_API_VERSION, { KeyId: keyId });
  const metadata = response.body.KeyMetadata;
  return typeof metadata === 'object' && metadata !== null ? (metadata as KeyMetadata) : {};
}

export async function* checkAlicloud(
  section: AlicloudSection,
  options: Pick<DoctorOptions, 'regions' | 'env'>,
): AsyncGenerator<Check> {
  const configured = manifestsOf('alicloud')
    .filter((m) => (section as Record<string, unknown>)[m.section] !== undefined)
    .map((m) => m.id);
  if (configured.length === 0) return;

  const regions =
    options.regions.length > 0
      ? options.regions
      : options.env.ALIBABA_CLOUD_REGION_ID
        ? [options.env.ALIBABA_CLOUD_REGION_ID]
        : [];
  const { uses, problems } = alicloudKeyUses(section, regions);
  yield* problems;

  let credentials: AlicloudCredentials | undefined;
  try {
    credentials = credentialsFrom(undefined, options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (uses.length > 0)
      yield {
        status: 'FAIL',
        check: 'alicloud credentials',
        detail: `cannot check ${uses.length} key use(s): ${error.issues.join('; ')}`,
        fix: 'export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (a RAM user or STS token allowed kms:DescribeKey)',
      };
  }

  if (credentials !== undefined) {
    const fixed = credentials;
    const api = createAlicloudApi({ credentials: () => fixed, env: options.env });
    const seen = new Map<string, Promise<KeyMetadata>>();
    for (const use of uses) {
      const cacheKey = `${use.region}|${use.keyId}`;
      let lookup = seen.get(cacheKey);
      if (!lookup) {
        lookup = describeKey(api, use.region, use.keyId);
        seen.set(cacheKey, lookup);
      }
      const check = `${use.fn}@${use.region} key-exists`;
      let key: KeyMetadata;
      try {
        key = await lookup;
      } catch (error) {
        yield describeFailure(check, use, classifyAlicloud(error));
        continue;
      }
      yield { status: 'ok', check, detail: `${use.keyId} (${use.field})${key.Arn ? ` ${key.Arn}` : ''}` };
      yield* keyChecks(use, key);
    }
    const deliveryRegions = [...new Set([...regions, ...uses.map((u) => u.region)])].sort();
    yield* checkAlicloudDelivery(api, deliveryRegions, configured);
  }

  for (const id of configured)
    for (const { check, detail, fix } of manifestOf(id).doctorSkips ?? [])
      yield { status: 'skip', check: `${id} ${check}`, detail, ...(fix !== undefined ? { fix } : {}) };

  for (const id of configured)
    yield {
      status: 'skip',
      check: `${id} permissions`,
      detail: `not checkable: ${manifestOf(id).noDryRun ?? 'its write API has no dry-run mode'}`,
    };
}

function describeFailure(check: string, use: KeyUse, e: RemediationError): Check {
  const detail = `${use.keyId}: DescribeKey in ${use.region} failed: ${e.code}: ${e.message}`;
  const notFound = {
    status: 'FAIL' as const,
    check,
    detail,
    fix: `create the key in ${use.region} or set ${use.field} to a key that exists there (a KMS key lives in one region)`,
  };
  if (e.code === 'Forbidden.KeyNotFound') return notFound;
  if (/^(InvalidAccessKeyId|SignatureDoesNotMatch|IncompleteSignature|InvalidSecurityToken)/.test(e.code))
    return {
      status: 'FAIL',
      check,
      detail,
      fix: 'check ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN',
    };
  if (/^(Forbidden|NoPermission)/.test(e.code))
    return { status: 'FAIL', check, detail, fix: 'allow kms:DescribeKey to the RAM identity running doctor' };
  if (e.status === 404) return notFound;
  return { status: 'FAIL', check, detail, fix: 'check credentials and network, then run doctor again' };
}
