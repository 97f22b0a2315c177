/**
 * Emulated ActionTrail (RPC 2020-07-06: DescribeTrails, GetTrailStatus) and Alibaba Cloud
 * EventBridge (RPC 2020-04-01: ListRules), for `atrest doctor`'s delivery checks. ACS3-signed
 * `POST /?…` with the action in `x-acs-action` and the version in `x-acs-version`, exactly what
 * `@alicloud/openapi-client` sends; answers in the official SDK models' shapes
 * (`TrailList[]`, `IsLogging`, `Data{Rules[],NextToken,Total}`), errors as `{RequestId,Code,Message}`.
 */
import { type Acs3Credential, RpcHandler } from './acs3.ts';
import { EmulatedService, ServiceFailure } from './harness.ts';

export interface EmulatedTrail {
  Name: string;
  Status?: string;
  EventRW?: string;
  SlsProjectArn?: string;
  isLogging: boolean;
}

export interface EmulatedRule {
  RuleName: string;
  Status: 'ENABLE' | 'DISABLE';
  FilterPattern: string;
}

class ActionTrailHandler extends RpcHandler {
  constructor(
    readonly trails: EmulatedTrail[],
    credentials?: Acs3Credential[],
  ) {
    super(
      {
        version: '2020-07-06',
        host: 'actiontrail.aliyuncs.com',
        actions: ['DescribeTrails', 'GetTrailStatus'],
      },
      credentials,
    );
  }

  protected answer(action: string, query: URLSearchParams, log: (resource: string) => void) {
    if (action === 'DescribeTrails')
      return {
        TrailList: this.trails.map(({ isLogging: _, ...trail }) => ({
          Status: 'Enable',
          EventRW: 'Write',
          TrailRegion: 'All',
          ...trail,
        })),
      };
    const name = query.get('Name') ?? '';
    log(name);
    const trail = this.trails.find((t) => t.Name === name);
    if (!trail) throw new ServiceFailure(404, 'TrailNotFoundException', `The trail ${name} does not exist.`);
    return { IsLogging: trail.isLogging, StartLoggingTime: '2026-11-01T00:00:00Z' };
  }
}

class EventBridgeHandler extends RpcHandler {
  constructor(
    readonly rules: EmulatedRule[],
    credentials?: Acs3Credential[],
  ) {
    super({ version: '2020-04-01', host: 'eventbridge.aliyuncs.com', actions: ['ListRules'] }, credentials);
  }

  protected answer(_action: string, query: URLSearchParams) {
    const bus = query.get('EventBusName');
    if (!bus) throw new ServiceFailure(400, 'EventBusNameRequired', 'EventBusName is mandatory.');
    const rules = bus === 'default' ? this.rules : [];
    const limit = Math.min(Number(query.get('Limit') ?? '10') || 10, 100);
    const start = Number(query.get('NextToken') ?? '0') || 0;
    const page = rules.slice(start, start + limit);
    const next = start + limit < rules.length ? String(start + limit) : '';
    return {
      Code: 'Success',
      Success: true,
      Message: '',
      Data: {
        Rules: page.map((r) => ({ ...r, EventBusName: bus, Targets: [] })),
        NextToken: next,
        Total: rules.length,
      },
    };
  }
}

export interface AlicloudDeliveryEmulator {
  actiontrail: EmulatedService;
  eventbridge: EmulatedService;
  trails: EmulatedTrail[];
  rules: EmulatedRule[];
  /** The env pointing the CLI at both. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** ActionTrail and EventBridge on loopback ports (`ALIBABA_CLOUD_ENDPOINT_ACTIONTRAIL` / `_EVENTBRIDGE`). */
export async function startAlicloudDelivery(
  options: { credentials?: Acs3Credential[] } = {},
): Promise<AlicloudDeliveryEmulator> {
  const trails: EmulatedTrail[] = [];
  const rules: EmulatedRule[] = [];
  const actiontrail = new EmulatedService('actiontrail', new ActionTrailHandler(trails, options.credentials));
  const eventbridge = new EmulatedService('eventbridge', new EventBridgeHandler(rules, options.credentials));
  const [at, eb] = await Promise.all([actiontrail.start(), eventbridge.start()]);
  return {
    actiontrail,
    eventbridge,
    trails,
    rules,
    env: { ALIBABA_CLOUD_ENDPOINT_ACTIONTRAIL: at, ALIBABA_CLOUD_ENDPOINT_EVENTBRIDGE: eb },
    stop: async () => {
      await Promise.all([actiontrail.stop(), eventbridge.stop()]);
    },
  };
}
