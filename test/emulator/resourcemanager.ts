/**
 * Alibaba Cloud Resource Directory `ListAccounts` (Resource Manager RPC API 2020-03-31), emulated
 * at the wire for the org-wide CLI: ACS3-signed as @alicloud/openapi-client sends it (action in
 * `x-acs-action`, parameters in the query), pages by `PageNumber` / `PageSize` (1–100, default
 * 10). Answers `{RequestId, PageNumber, PageSize, TotalCount, Accounts:{Account:[{AccountId,
 * DisplayName, Type, Status, FolderId, ResourceDirectoryId, JoinMethod, JoinTime, ModifyTime}]}}`,
 * the shape of the official SDKs' ListAccountsResponseBody; errors as RPC `{RequestId, HostId,
 * Code, Message}`.
 *
 *   const rd = new ResourceDirectoryEmulator([{ id: '1234567890123456', name: 'central' }, …]);
 *   await rd.start();             // rd.url → ALIBABA_CLOUD_ENDPOINT_RESOURCEMANAGER
 */
import { type Acs3Credential, Acs3Verifier, acs3Action, jsonAnswer, rpcError } from './acs3.ts';
import {
  type Answer,
  EmulatedService,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

const VERSION = '2020-03-31';

export interface DirectoryAccount {
  id: string;
  name?: string;
  /** Default CreateSuccess. */
  status?: string;
  /** Default ResourceAccount. */
  type?: 'ResourceAccount' | 'CloudAccount';
}

class ResourceManagerHandler implements ServiceHandler {
  readonly throttle = { status: 400, code: 'Throttling.User' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly accounts: () => readonly DirectoryAccount[],
    credentials: Acs3Credential[] | undefined,
  ) {
    this.verifier = new Acs3Verifier(credentials);
  }

  action(ctx: RequestContext): string {
    return acs3Action(ctx);
  }

  isWrite(): boolean {
    return false;
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return rpcError(status, code, message, requestId, 'resourcemanager.aliyuncs.com');
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    this.verifier.check(ctx);
    if (ctx.req.headers['x-acs-version'] !== VERSION)
      throw new ServiceFailure(400, 'InvalidVersion', `x-acs-version must be ${VERSION}`);
    if (action !== 'ListAccounts')
      throw new ServiceFailure(404, 'InvalidAction.NotFound', `Specified api ${action} is not found.`);
    const q = ctx.url.searchParams;
    const pageNumber = Number(q.get('PageNumber') ?? '1');
    const pageSize = Number(q.get('PageSize') ?? '10');
    if (!Number.isInteger(pageNumber) || pageNumber < 1)
      throw new ServiceFailure(400, 'InvalidParameter.PageNumber', 'The PageNumber is invalid.');
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
      throw new ServiceFailure(400, 'InvalidParameter.PageSize', 'The PageSize is invalid.');
    log(`page@${pageNumber}`);
    const all = this.accounts();
    const page = all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
    const requestId = nextRequestId();
    return jsonAnswer(
      200,
      {
        RequestId: requestId,
        PageNumber: pageNumber,
        PageSize: pageSize,
        TotalCount: all.length,
        Accounts: {
          Account: page.map((a) => ({
            AccountId: a.id,
            DisplayName: a.name ?? `account-${a.id}`,
            Type: a.type ?? 'ResourceAccount',
            Status: a.status ?? 'CreateSuccess',
            FolderId: 'fd-emulator',
            ResourceDirectoryId: 'rd-emulator',
            JoinMethod: 'created',
            JoinTime: '2024-01-01T00:00:00.000Z',
            ModifyTime: '2024-01-01T00:00:00.000Z',
          })),
        },
      },
      requestId,
    );
  }
}

/** The directory's accounts behind `ListAccounts`; `accounts` may be changed between calls. */
export class ResourceDirectoryEmulator {
  readonly service: EmulatedService;
  url = '';

  constructor(
    public accounts: DirectoryAccount[],
    options: {
      /** Accepted keys; default EMULATOR_CREDENTIALS. Pass an AccountDirectory's `alicloudCredentials` to accept STS keys. */
      credentials?: Acs3Credential[];
    } = {},
  ) {
    this.service = new EmulatedService(
      'resourcemanager',
      new ResourceManagerHandler(() => this.accounts, options.credentials),
    );
  }

  async start(port = 0): Promise<string> {
    this.url = await this.service.start(port);
    return this.url;
  }

  stop(): Promise<void> {
    return this.service.stop();
  }
}
