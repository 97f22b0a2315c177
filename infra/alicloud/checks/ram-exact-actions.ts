import type { RosRule } from './rule.ts';

/** Least privilege: every RAM statement names exact actions, never `service:*` or `*`. */
export const ramExactActions: RosRule = {
  id: 'ATREST-ROS-RAM1',
  explanation: 'RAM role policies must list exact actions (no wildcard), as built from each permissions.ts.',
  check(resource) {
    if (resource.Type !== 'ALIYUN::RAM::Role') return 'NOT_APPLICABLE';
    const statements = (resource.Properties?.Policies ?? []).flatMap(
      (p: { PolicyDocument?: { Statement?: unknown[] } }) => p.PolicyDocument?.Statement ?? [],
    );
    if (statements.length === 0) return 'NON_COMPLIANT';
    const actions = statements.flatMap((s: { Action?: unknown }) =>
      Array.isArray(s.Action) ? s.Action : [s.Action],
    );
    return actions.every((a: unknown) => typeof a === 'string' && !a.includes('*'))
      ? 'COMPLIANT'
      : 'NON_COMPLIANT';
  },
};
