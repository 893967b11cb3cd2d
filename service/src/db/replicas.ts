import {
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  RDSClient,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { databaseTarget, type Config } from '../config.js';
import type { Logger } from '../logger.js';

/** The read replicas known right now; the list changes as replicas come and go. */
export interface ReplicaList {
  /** Replica URLs (credentials as in DATABASE_URL; DATABASE_USER/PASSWORD apply), sorted. */
  urls(): readonly string[];
  /** Stops refreshing; `urls()` keeps the last list. */
  stop(): void;
}

/** Options of {@link RdsReplicaDiscovery}. */
export interface RdsReplicaDiscoveryOptions {
  /** Client in the primary's region. */
  rds: RDSClient;
  /** DB instance identifier of the primary (RDS_PRIMARY_INSTANCE_ID). */
  primaryInstanceId: string;
  /**
   * The primary's URL (DATABASE_URL): a replica URL is this one with the replica's endpoint, as
   * replicas share the primary's database, users and passwords.
   */
  primaryUrl: string;
  /** How often RDS is asked again once started. @default 60_000 */
  refreshMs?: number;
  logger: Logger;
  /** Called with the new list whenever it changes. @default nothing */
  onChange?: (urls: readonly string[]) => void;
}

/**
 * The primary's read replicas as RDS reports them: `DescribeDBInstances` of the primary names its
 * replicas (`ReadReplicaDBInstanceIdentifiers`), and each replica's own description gives its
 * status and endpoint. Only `available` replicas are listed, so one being created, modified or
 * rebooted is left out until RDS reports it ready. Replicas in other regions (listed by ARN) are
 * never listed: reads there would cross regions. Refreshed periodically, so a replica the platform
 * adds is read from without a redeploy. A failed refresh keeps the last good list and is logged
 * once until one succeeds again.
 *
 * One describe call per instance, by identifier: the API task's IAM policy allows
 * `rds:DescribeDBInstances` on exactly the primary and its replicas, not on `*`.
 */
export class RdsReplicaDiscovery implements ReplicaList {
  private current: readonly string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<readonly string[]> | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: RdsReplicaDiscoveryOptions) {}

  urls(): readonly string[] {
    return this.current;
  }

  /** Refreshes now, then every `refreshMs`. Resolves after the first refresh (never rejects). */
  start(): Promise<readonly string[]> {
    this.stop();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? 60_000);
    // Discovery alone must not keep a process alive that has nothing else to do.
    this.timer.unref();
    return this.refresh();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Asks RDS once (joining a refresh already under way); resolves to the list in force after it. */
  refresh(): Promise<readonly string[]> {
    this.running ??= this.discover().finally(() => (this.running = undefined));
    return this.running;
  }

  private async discover(): Promise<readonly string[]> {
    const { logger, primaryInstanceId } = this.options;
    try {
      const found = await this.describeReplicas();
      if (this.lastError !== undefined)
        logger.info({ primaryInstanceId }, 'replica discovery recovered');
      this.lastError = undefined;
      if (found.join() !== this.current.join()) {
        this.current = found;
        logger.info(
          {
            primaryInstanceId,
            replicas: found.map((url) => databaseTarget({ DATABASE_URL: url })),
          },
          'read replicas discovered',
        );
        this.options.onChange?.(found);
      }
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastError) {
        logger.warn(
          { primaryInstanceId, err: message, keptReplicas: this.current.length },
          'replica discovery failed; keeping the last list',
        );
      }
      this.lastError = message;
    }
    return this.current;
  }

  private async describeReplicas(): Promise<string[]> {
    const primary = await this.describe(this.options.primaryInstanceId);
    if (!primary) throw new Error(`RDS has no DB instance "${this.options.primaryInstanceId}"`);
    const ids = (primary.ReadReplicaDBInstanceIdentifiers ?? []).filter(
      (id) => !id.startsWith('arn:'),
    );
    // A replica deleted between the two calls is simply gone.
    const replicas = await Promise.all(ids.map((id) => this.describe(id)));
    return replicas
      .filter((r) => r?.DBInstanceStatus === 'available' && r.Endpoint?.Address)
      .map((r) => this.urlOf(r!))
      .sort();
  }

  private async describe(id: string): Promise<DBInstance | undefined> {
    try {
      const out = await this.options.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }),
      );
      return out.DBInstances?.[0];
    } catch (err) {
      if (err instanceof DBInstanceNotFoundFault) return undefined;
      throw err;
    }
  }

  private urlOf(replica: DBInstance): string {
    const url = new URL(this.options.primaryUrl);
    url.hostname = replica.Endpoint!.Address!;
    url.port = String(replica.Endpoint!.Port ?? 5432);
    return url.toString();
  }
}

/**
 * The replica list the configuration asks for: DATABASE_REPLICA_URLS as given (it wins: an
 * explicit list is the operator's choice), else discovery from RDS when RDS_PRIMARY_INSTANCE_ID
 * is set (started here), else undefined (no replicas: everything reads from the primary).
 */
export function replicaList(
  config: Pick<
    Config,
    | 'DATABASE_URL'
    | 'DATABASE_REPLICA_URLS'
    | 'RDS_PRIMARY_INSTANCE_ID'
    | 'DATABASE_REPLICA_REFRESH_MS'
  >,
  logger: Logger,
  rds: () => RDSClient = () => new RDSClient({}),
): ReplicaList | undefined {
  const fixed = config.DATABASE_REPLICA_URLS;
  if (fixed.length > 0) {
    logger.info(
      {
        replicas: fixed.map((url) => databaseTarget({ DATABASE_URL: url })),
        ...(config.RDS_PRIMARY_INSTANCE_ID ? { ignored: 'RDS_PRIMARY_INSTANCE_ID' } : {}),
      },
      'read replicas from DATABASE_REPLICA_URLS',
    );
    return { urls: () => fixed, stop: () => undefined };
  }
  if (!config.RDS_PRIMARY_INSTANCE_ID) return undefined;
  const discovery = new RdsReplicaDiscovery({
    rds: rds(),
    primaryInstanceId: config.RDS_PRIMARY_INSTANCE_ID,
    primaryUrl: config.DATABASE_URL,
    refreshMs: config.DATABASE_REPLICA_REFRESH_MS,
    logger,
  });
  void discovery.start();
  return discovery;
}
