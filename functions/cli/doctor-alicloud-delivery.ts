/**
 * `atrest doctor` for the Alibaba Cloud functions: will a creation ever reach them? Checked per
 * region before the first event, through the shared ACS3 layer (functions/alicloud/openapi.ts):
 *
 * - ActionTrail (RPC 2020-07-06, `actiontrail.<region>.aliyuncs.com` or
 *   `ALIBABA_CLOUD_ENDPOINT_ACTIONTRAIL`): `DescribeTrails` then `GetTrailStatus(Name)`: some trail
 *   is logging (`IsLogging`) write events (`EventRW` Write or All); the detail says whether one
 *   delivers to SLS (`SlsProjectArn`), which the trail path reads.
 * - EventBridge (RPC 2020-04-01, `eventbridge.<region>.aliyuncs.com` or
 *   `ALIBABA_CLOUD_ENDPOINT_EVENTBRIDGE`): `ListRules(EventBusName=default)`, every page. Per
 *   configured function, a rule whose FilterPattern names one of its events exists and its Status
 *   is `ENABLE`; and the default bus has room: Function Compute's docs allow "a maximum of 10 event
 *   rules on the default event bus", so the rules atrest still needs must fit.
 *
 * Response shapes are the official SDKs' models (actiontrail20200706 DescribeTrailsResponseBody
 * `TrailList[]`, GetTrailStatusResponseBody `IsLogging`; eventbridge20200401 ListRulesResponseBody
 * `Data{Rules[{RuleName,Status,FilterPattern}],NextToken,Total}`).
 */
import type { RemediationError } from '#core/errors';
import type { FunctionId } from '#core/outcome';
import { type AlicloudApi, classifyAlicloud } from '../alicloud/openapi.ts';
import { manifestOf, manifestsOf } from '../manifests.ts';
import type { Check } from './doctor-check.ts';

const ACTIONTRAIL_API_VERSION = '2020-07-06';
const EVENTBRIDGE_API_VERSION = '2020-04-01';
/** Function Compute: "a maximum of 10 event rules on the default event bus". */
const DEFAULT_BUS_RULE_LIMIT = 10;
const MAX_RULE_PAGES = 20;

type AlicloudFunctionId = Exclude<FunctionId, 'aws.log-group-kms'>;

/** The ActionTrail event names each function's EventBridge rule filters on (its manifest's trigger). */
const TRIGGER_EVENTS: Record<AlicloudFunctionId, readonly string[]> = Object.fromEntries(
  manifestsOf('alicloud').map((m) => [m.id, m.trigger.eventNames]),
);

export interface TrailFacts {
  name: string;
  status?: string;
  eventRW?: string;
  slsProjectArn?: string;
  isLogging?: boolean;
}

export interface RuleFacts {
  name: string;
  status?: string;
  filterPattern?: string;
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

// ------------------------------------------------------------------------------------------------
// Pure decisions
// ------------------------------------------------------------------------------------------------

/** The trail check's verdict from what DescribeTrails / GetTrailStatus said. */
function judgeTrails(region: string, trails: readonly TrailFacts[]): Check {
  const check = `alicloud@${region} trail-logging`;
  const logging = trails.filter((t) => t.isLogging === true && (t.eventRW ?? 'Write') !== 'Read');
  const toSls = logging.find((t) => t.slsProjectArn !== undefined);
  if (logging.length > 0) {
    const names = logging.map((t) => t.name).join(', ');
    return {
      status: 'ok',
      check,
      detail: toSls
        ? `trail ${names} is logging write events; ${toSls.name} delivers to SLS (${toSls.slsProjectArn})`
        : `trail ${names} is logging write events; none delivers to SLS, so the trail path has nothing to read`,
    };
  }
  return {
    status: 'FAIL',
    check,
    detail:
      trails.length === 0
        ? 'no ActionTrail trail: nothing delivers ActionTrail records to SLS for the trail path'
        : `no trail logs write events: ${trails.map((t) => `${t.name} (${t.isLogging ? `EventRW=${t.eventRW}` : 'not logging'})`).join(', ')}`,
    fix:
      trails.length === 0
        ? `aliyun actiontrail CreateTrail --Name atrest --EventRW Write --SlsProjectArn acs:log:${region}:<account>:project/<project> --SlsWriteRoleArn <role> --region ${region}, then aliyun actiontrail StartLogging --Name atrest --region ${region}`
        : `aliyun actiontrail StartLogging --Name <trail> --region ${region} (and EventRW Write or All)`,
  };
}

/** The rule checks and the default-bus room check from the rules ListRules returned. */
export function judgeRules(
  region: string,
  configured: readonly AlicloudFunctionId[],
  rules: readonly RuleFacts[],
  total: number,
): Check[] {
  const checks: Check[] = [];
  let missing = 0;
  for (const fn of configured) {
    const check = `${fn}@${region} rule`;
    const events = TRIGGER_EVENTS[fn] ?? [];
    const mine = rules.filter((r) => events.some((e) => (r.filterPattern ?? '').includes(`"${e}"`)));
    const enabled = mine.find((r) => (r.status ?? '').toUpperCase() === 'ENABLE');
    if (enabled) {
      checks.push({
        status: 'ok',
        check,
        detail: `rule ${enabled.name} (default bus) filters ${events.join(', ')} and is ENABLE`,
      });
      continue;
    }
    const first = mine[0];
    if (first) {
      checks.push({
        status: 'FAIL',
        check,
        detail: `rule ${first.name} filters ${events.join(', ')} but its Status is ${first.status ?? 'unknown'}: no event reaches the function`,
        fix: `aliyun eventbridge EnableRule --EventBusName default --RuleName ${first.name} --region ${region}`,
      });
      continue;
    }
    missing += 1;
    // A function whose service's events never reach EventBridge says why in its manifest.
    const noRule = manifestOf(fn).noEventBridgeRule;
    if (noRule !== undefined) checks.push({ status: 'skip', check, detail: noRule });
    else
      checks.push({
        status: 'FAIL',
        check,
        detail: `no rule on the default bus of ${region} filters ${events.join(', ')}`,
        fix: `deploy the ROS stack to ${region} (see "Deploying"): its EventBridge trigger creates the rule`,
      });
  }
  const room = DEFAULT_BUS_RULE_LIMIT - total;
  checks.push(
    missing <= room
      ? {
          status: 'ok',
          check: `alicloud@${region} default-bus-room`,
          detail: `${total} of ${DEFAULT_BUS_RULE_LIMIT} rules on the default bus${missing > 0 ? `; the ${missing} rule(s) atrest still needs fit` : ''}`,
        }
      : {
          status: 'FAIL',
          check: `alicloud@${region} default-bus-room`,
          detail: `the default bus holds ${total} rules and atrest needs ${missing} more; Function Compute allows at most ${DEFAULT_BUS_RULE_LIMIT} event rules on the default event bus, so deploying would fail`,
          fix: `delete unused rules on the default bus (aliyun eventbridge ListRules --EventBusName default --region ${region}), or ask for a higher quota`,
        },
  );
  return checks;
}

// ------------------------------------------------------------------------------------------------
// The checks (I/O)
// ------------------------------------------------------------------------------------------------

function apiFailure(check: string, call: string, e: RemediationError, permission: string): Check {
  return {
    status: 'FAIL',
    check,
    detail: `${call} failed: ${e.code}: ${e.message}${e.requestId ? ` (request id ${e.requestId})` : ''}`,
    fix: /^(Forbidden|NoPermission)/.test(e.code)
      ? `allow ${permission} to the RAM identity running doctor`
      : 'check credentials, region and network, then run doctor again',
  };
}

export async function* checkAlicloudDelivery(
  api: AlicloudApi,
  regions: readonly string[],
  configured: readonly AlicloudFunctionId[],
): AsyncGenerator<Check> {
  for (const region of regions) {
    yield await trailCheck(api, region);
    yield* await ruleChecks(api, region, configured);
  }
}

async function trailCheck(api: AlicloudApi, region: string): Promise<Check> {
  const check = `alicloud@${region} trail-logging`;
  const rpc = (action: string, query: Record<string, string>) =>
    api.rpc('ACTIONTRAIL', region, action, ACTIONTRAIL_API_VERSION, query);
  let trails: TrailFacts[];
  try {
    const listed = await rpc('DescribeTrails', { RegionId: region });
    const list = Array.isArray(listed.body.TrailList) ? listed.body.TrailList : [];
    trails = list
      .filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null)
      .flatMap((t) => {
        const name = str(t.Name);
        if (name === undefined) return [];
        const status = str(t.Status);
        const eventRW = str(t.EventRW);
        const slsProjectArn = str(t.SlsProjectArn);
        return [
          {
            name,
            ...(status ? { status } : {}),
            ...(eventRW ? { eventRW } : {}),
            ...(slsProjectArn ? { slsProjectArn } : {}),
          },
        ];
      });
  } catch (error) {
    return apiFailure(
      check,
      'ActionTrail DescribeTrails',
      classifyAlicloud(error),
      'actiontrail:DescribeTrails',
    );
  }
  for (const trail of trails) {
    try {
      const status = await rpc('GetTrailStatus', { RegionId: region, Name: trail.name });
      trail.isLogging = status.body.IsLogging === true || status.body.IsLogging === 'true';
    } catch (error) {
      return apiFailure(
        check,
        `ActionTrail GetTrailStatus(${trail.name})`,
        classifyAlicloud(error),
        'actiontrail:GetTrailStatus',
      );
    }
  }
  return judgeTrails(region, trails);
}

async function ruleChecks(
  api: AlicloudApi,
  region: string,
  configured: readonly AlicloudFunctionId[],
): Promise<Check[]> {
  const rules: RuleFacts[] = [];
  let total: number | undefined;
  let token: string | undefined;
  try {
    for (let page = 0; page < MAX_RULE_PAGES; page += 1) {
      const out = await api.rpc('EVENTBRIDGE', region, 'ListRules', EVENTBRIDGE_API_VERSION, {
        EventBusName: 'default',
        Limit: '100',
        ...(token ? { NextToken: token } : {}),
      });
      const data = (
        typeof out.body.Data === 'object' && out.body.Data !== null ? out.body.Data : {}
      ) as Record<string, unknown>;
      for (const r of Array.isArray(data.Rules) ? data.Rules : []) {
        if (typeof r !== 'object' || r === null) continue;
        const rule = r as Record<string, unknown>;
        const name = str(rule.RuleName);
        if (name === undefined) continue;
        const status = str(rule.Status);
        const filterPattern = str(rule.FilterPattern);
        rules.push({ name, ...(status ? { status } : {}), ...(filterPattern ? { filterPattern } : {}) });
      }
      if (typeof data.Total === 'number') total = data.Total;
      token = str(data.NextToken);
      if (!token) break;
    }
  } catch (error) {
    return [
      apiFailure(
        `alicloud@${region} rules`,
        'EventBridge ListRules',
        classifyAlicloud(error),
        'eventbridge:ListRules',
      ),
    ];
  }
  return judgeRules(region, configured, rules, total ?? rules.length);
}
