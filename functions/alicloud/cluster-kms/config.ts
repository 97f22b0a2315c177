/**
 * alicloud.cluster-kms's config section, `alicloud.clusterKms` (README "Configuration"): the KMS
 * key ACK Secrets encryption uses, per region if need be, and how long a not-ready cluster may be
 * waited for. Composed into the document by #core/config `composeConfig` through the manifest.
 */
import * as z from 'zod/mini';
import {
  aliRegionMap,
  defineSection,
  delivery,
  enforcement,
  excludePatterns,
  type KeyRef,
  nonEmpty,
  type SectionType,
} from '#core/config';
import { ConfigError } from '#core/errors';

export const clusterKmsConfig = defineSection({
  cloud: 'alicloud',
  section: 'clusterKms',
  schema: () =>
    z.strictObject({
      kmsKeyId: nonEmpty(),
      byRegion: z.optional(aliRegionMap(nonEmpty())),
      /** Cluster ids or names matching any of these regular expressions are left alone. */
      exclude: z.optional(excludePatterns()),
      /** How long a cluster may stay not-ready before the event fails. Default 120 minutes. */
      deferDeadlineMinutes: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1440))),
      ...enforcement(),
      /** Delivery paths deployed: `eventbridge`, `trail` or both. Default: the function's own. */
      delivery: z.optional(delivery()),
    }),
  // ACK secret encryption accepts only Aliyun_AES_256. The default key serves every named region
  // without a byRegion entry; with none named and no byRegion, its region is unknown.
  keys: (section, regions) => {
    const keys: KeyRef[] = Object.entries(section.byRegion ?? {}).map(([region, key]) => ({
      field: `alicloud.clusterKms.byRegion.${region}`,
      key,
      region,
      need: 'aes256',
    }));
    const defaults = regions.filter((r) => section.byRegion?.[r] === undefined);
    for (const region of defaults)
      keys.push({ field: 'alicloud.clusterKms.kmsKeyId', key: section.kmsKeyId, region, need: 'aes256' });
    if (keys.length === 0)
      keys.push({ field: 'alicloud.clusterKms.kmsKeyId', key: section.kmsKeyId, need: 'aes256' });
    return keys;
  },
  starter: ({ alicloudKey }) => {
    if (alicloudKey === undefined)
      throw new ConfigError(['alicloud.cluster-kms needs --alicloud-key KEY_ID']);
    return { kmsKeyId: alicloudKey };
  },
  summary: () => 'new ACK Pro clusters get Secret encryption with your key',
});

export type ClusterKmsConfig = SectionType<typeof clusterKmsConfig>;
