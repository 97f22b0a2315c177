import type { RosRule } from './rule.ts';

/**
 * A role a service assumes is scoped to the resource that assumes it (a source condition), so no
 * other function in the account can take it over with the same service principal.
 */
export const ramTrustSource: RosRule = {
  id: 'ATREST-ROS-RAM2',
  explanation: 'RAM roles trusted by a service principal must carry a source condition (acs:SourceArn).',
  check(resource) {
    if (resource.Type !== 'ALIYUN::RAM::Role') return 'NOT_APPLICABLE';
    const statements = resource.Properties?.AssumeRolePolicyDocument?.Statement ?? [];
    const services = statements.filter(
      (s: { Principal?: { Service?: unknown } }) => s.Principal?.Service !== undefined,
    );
    if (services.length === 0) return 'NOT_APPLICABLE';
    return services.every((s: { Condition?: Record<string, Record<string, unknown>> }) =>
      Object.values(s.Condition ?? {}).some((keys) => 'acs:SourceArn' in keys),
    )
      ? 'COMPLIANT'
      : 'NON_COMPLIANT';
  },
};
