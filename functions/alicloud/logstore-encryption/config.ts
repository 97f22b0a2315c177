/**
 * alicloud.logstore-encryption's config section, `alicloud.logstoreEncryption` (README
 * "Configuration"): the SLS encryption every logstore gets, with the SLS key or bring-your-own-key.
 * Composed into the document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import {
  aliRegionMap,
  defineSection,
  delivery,
  enforcement,
  excludePatterns,
  nonEmpty,
  type SectionType,
} from '#core/config';
import { ConfigError } from '#core/errors';
import { once } from '#core/once';
import { ALICLOUD_REGION } from '#core/validation';

const ENCRYPT_TYPES = [
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

export const UserCmkInfo = once(() =>
  z.strictObject({
    keyId: nonEmpty(),
    roleArn: z.string().check(z.regex(/^acs:ram::\d+:role\/[A-Za-z0-9._-]+$/)),
    regionId: z.string().check(z.regex(ALICLOUD_REGION)),
  }),
);

export const logstoreEncryptionConfig = defineSection({
  cloud: 'alicloud',
  section: 'logstoreEncryption',
  schema: () =>
    z.strictObject({
      /** SLS encryption algorithm; `default` is AES-256. Immutable once set on a logstore. */
      encryptType: z.enum(ENCRYPT_TYPES),
      /** Bring-your-own-key; absent means the SLS service key. Immutable once set. */
      userCmkInfo: z.optional(UserCmkInfo()),
      /** Per-region BYOK overrides (a KMS key lives in one region). */
      byRegion: z.optional(aliRegionMap(UserCmkInfo())),
      /** `project/logstore` names matching any of these regular expressions are left alone. */
      exclude: z.optional(excludePatterns()),
      ...enforcement(),
      /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
      delivery: z.optional(delivery()),
    }),
  // A BYOK key is used in the region its entry names (SLS reaches it there with the role).
  keys: (section) => [
    ...(section.userCmkInfo
      ? [
          {
            field: 'alicloud.logstoreEncryption.userCmkInfo.keyId',
            key: section.userCmkInfo.keyId,
            region: section.userCmkInfo.regionId,
          },
        ]
      : []),
    ...Object.entries(section.byRegion ?? {}).map(([region, cmk]) => ({
      field: `alicloud.logstoreEncryption.byRegion.${region}.keyId`,
      key: cmk.keyId,
      region: cmk.regionId,
    })),
  ],
  starter: ({ alicloudKey, alicloudRegions, logstoreRole }) => {
    if (logstoreRole === undefined) return { encryptType: 'default' as const, exclude: [] };
    const regionId = alicloudRegions[0];
    if (regionId === undefined)
      throw new ConfigError(['--logstore-role needs --alicloud-region R (the region of the key)']);
    if (alicloudKey === undefined)
      throw new ConfigError(['alicloud.logstore-encryption needs --alicloud-key KEY_ID']);
    return {
      encryptType: 'default' as const,
      userCmkInfo: { keyId: alicloudKey, roleArn: logstoreRole, regionId },
      exclude: [],
    };
  },
  summary: (section) =>
    section.userCmkInfo
      ? 'new logstores encrypted with your key (BYOK), SLS assuming the role given'
      : "new logstores encrypted with SLS's own key (add --logstore-role for BYOK)",
});

export type LogstoreEncryptionConfig = SectionType<typeof logstoreEncryptionConfig>;
export type UserCmkInfo = z.infer<ReturnType<typeof UserCmkInfo>>;
