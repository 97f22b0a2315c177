/**
 * What a function needs to read a trail's logstore on the trail path (trail.ts): PullLogs. SLS's
 * RAM action list groups GetCursor, GetCursorTime and the reading of data under one action,
 * `log:GetCursorOrData` ("根据时间获得游标;根据游标获取对应服务端时间", and the PullLogs/PullData
 * API pages name it), on the logstore. The infra grants it to the functions whose `delivery`
 * includes `trail`, on the one logstore the trigger watches: `{trailProject}` and
 * `{trailLogstore}` are filled in with it.
 */
import type { PermissionSet } from '#core/permissions';

export const trailPermissions: PermissionSet = {
  cloud: 'alicloud',
  statements: [
    {
      actions: ['log:GetCursorOrData'],
      resources: ['acs:log:{region}:{account}:project/{trailProject}/logstore/{trailLogstore}'],
      why: 'trail path: read the ActionTrail records of the trigger cursor range (PullLogs)',
    },
  ],
};
