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
import { type Acs3Credential, RpcHandler } from './acs3.ts';
import { EmulatedService, ServiceFailure } from './harness.ts';

const VERSION = '2020-03-31';

export interface DirectoryAccount {
  id: string;
  name?: string;
  /** Default CreateSuccess. */
  status?: string;
  /** Default ResourceAccount. */
  type?: 'ResourceAccount' | 'CloudAccount';
}

class ResourceManagerHandler extends RpcHandler {
  constructor(
    private readonly accounts: () => readonly DirectoryAccount[],
    credentials: Acs3Credential[] | undefined,
  ) {
    super({ version: VERSION, host: 'resourcemanager.aliyuncs.com', actions: ['ListAccounts'] }, credentials);
  }

  protected answer(_action: string, q: URLSearchParams, log: (resource: string) => void) {
    const pageNumber = Number(q.get('PageNumber') ?? '1');
    const pageSize = Number(q.get('PageSize') ?? '10');
    if (!Number.isInteger(pageNumber) || pageNumber < 1)
      throw new ServiceFailure(400, 'InvalidParameter.PageNumber', 'The PageNumber is invalid.');
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
      throw new ServiceFailure(400, 'InvalidParameter.PageSize', 'The PageSize is invalid.');
    log(`page@${pageNumber}`);
    const all = this.accounts();
    const page = all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
    return {
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
    };
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
