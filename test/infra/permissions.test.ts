import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/errors.ts';
import { FUNCTION_IDS } from '../../infra/functions.ts';
import { checkPermissions, loadPermissions } from '../../infra/permissions.ts';

const issuesOf = (value: unknown): readonly string[] => {
  try {
    checkPermissions('alicloud.cluster-kms', value);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
};

describe('checkPermissions', () => {
  it('accepts a sound set unchanged', () => {
    const set = {
      cloud: 'alicloud',
      statements: [{ actions: ['cs:GetClusters'], resources: ['*'], why: 'list' }],
    };

    expect(checkPermissions('alicloud.cluster-kms', set)).toBe(set);
  });

  it('names every problem: wrong cloud, wildcard action, no resource, no reason', () => {
    const issues = issuesOf({
      cloud: 'aws',
      statements: [{ actions: ['cs:*', 'cs:Describe*'], resources: [], why: '' }],
    });

    expect(issues).toEqual([
      'alicloud.cluster-kms.cloud: expected "alicloud"',
      'alicloud.cluster-kms.statements.0.actions: "cs:*" is not an exact service:Action',
      'alicloud.cluster-kms.statements.0.actions: "cs:Describe*" is not an exact service:Action',
      'alicloud.cluster-kms.statements.0.resources: expected at least one resource',
      'alicloud.cluster-kms.statements.0.why: expected the reason',
    ]);
  });

  it('rejects a module without permissions and a set without statements', () => {
    expect(issuesOf(undefined)).toEqual(['alicloud.cluster-kms: exports no permissions']);
    expect(issuesOf({ cloud: 'alicloud', statements: [] })).toEqual([
      'alicloud.cluster-kms.statements: expected at least one statement',
    ]);
  });
});

describe('loadPermissions', () => {
  it.each(FUNCTION_IDS)('%s: its permissions.ts passes the checks', async (id) => {
    const set = await loadPermissions(id);

    expect(set.cloud).toBe(id.split('.')[0]);
    expect(set.statements.length).toBeGreaterThan(0);
  });

  it('uses permissionsFor(section) when a function exports it (logstore BYOK adds ram:PassRole)', async () => {
    const roleArn = 'acs:ram::1234567890123456:role/sls-byok';
    const config = {
      alicloud: {
        logstoreEncryption: {
          encryptType: 'default',
          userCmkInfo: { keyId: 'key-1', roleArn, regionId: 'cn-hangzhou' },
        },
      },
    };

    const plain = await loadPermissions('alicloud.logstore-encryption');
    const byok = await loadPermissions('alicloud.logstore-encryption', config);

    expect(plain.statements.some((s) => s.actions.includes('ram:PassRole'))).toBe(false);
    expect(byok.statements).toContainEqual(
      expect.objectContaining({ actions: ['ram:PassRole'], resources: [roleArn] }),
    );
  });
});
