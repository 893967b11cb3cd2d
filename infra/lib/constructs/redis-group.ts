import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Eviction behaviour of a Redis group. */
export type EvictionPolicy = 'noeviction' | 'allkeys-lru';

/** Props for {@link RedisGroup}. */
export interface RedisGroupProps {
  /** VPC; nodes go into its isolated subnets. */
  readonly vpc: ec2.IVpc;
  /** Key for at-rest encryption. */
  readonly encryptionKey: kms.IKey;
  /** Human description, e.g. `Plinth dev queue`. */
  readonly description: string;
  /** Node type, e.g. `cache.t4g.micro`. */
  readonly nodeType: string;
  /** Replica count; ≥ 1 enables automatic failover and Multi-AZ. */
  readonly replicas: number;
  /** `maxmemory-policy`; Bull needs `noeviction` (an evicted job key corrupts the queue). */
  readonly evictionPolicy: EvictionPolicy;
  /** Daily snapshot retention, days. @default 0 */
  readonly snapshotRetentionDays?: number;
  /** AUTH token secret (whole secret string), shared when the app uses one `REDIS_AUTH_TOKEN`. */
  readonly authToken: secretsmanager.ISecret;
  /** SNAPSHOT/RETAIN instead of DESTROY on removal. @default false */
  readonly protect?: boolean;
}

/** Redis port (TLS). */
export const REDIS_PORT = 6379;

/**
 * ElastiCache (Redis OSS 7.1) replication group with cluster mode disabled (Bull needs a single
 * keyspace), TLS required in transit, KMS at rest, AUTH token from Secrets Manager, automatic
 * failover and Multi-AZ when it has replicas.
 */
export class RedisGroup extends Construct implements ec2.IConnectable {
  /** Connections to the nodes; use `client.connections.allowToDefaultPort(group)`. */
  public readonly connections: ec2.Connections;
  /** The replication group. */
  public readonly replicationGroup: elasticache.CfnReplicationGroup;
  /** The auth token (whole secret string, no JSON). */
  public readonly authToken: secretsmanager.ISecret;
  /** Security group of the nodes. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** `rediss://<primary endpoint>:<port>` (no credentials; `REDIS_AUTH_TOKEN` supplies them). */
  public readonly url: string;
  /** Eviction policy the group was created with. */
  public readonly evictionPolicy: EvictionPolicy;

  constructor(scope: Construct, id: string, props: RedisGroupProps) {
    super(scope, id);
    const { vpc } = props;
    this.evictionPolicy = props.evictionPolicy;
    const multiNode = props.replicas > 0;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `${props.description}: ingress only from Plinth tasks`,
      allowAllOutbound: false,
    });

    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(REDIS_PORT),
    });

    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: `${props.description} (isolated subnets)`,
      subnetIds: vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
    });

    const parameters = new elasticache.CfnParameterGroup(this, 'Parameters', {
      cacheParameterGroupFamily: 'redis7',
      description: `${props.description}: maxmemory-policy ${props.evictionPolicy}`,
      properties: { 'maxmemory-policy': props.evictionPolicy },
    });

    this.authToken = props.authToken;

    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: props.description,
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: props.nodeType,
      numCacheClusters: 1 + props.replicas,
      automaticFailoverEnabled: multiNode,
      multiAzEnabled: multiNode,
      cacheSubnetGroupName: subnetGroup.ref,
      cacheParameterGroupName: parameters.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      port: REDIS_PORT,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: props.encryptionKey.keyArn,
      authToken: this.authToken.secretValue.unsafeUnwrap(), // a {{resolve:secretsmanager}} reference
      autoMinorVersionUpgrade: true,
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 0,
      ...(props.snapshotRetentionDays ? { snapshotWindow: '03:00-04:00' } : {}),
      preferredMaintenanceWindow: 'sun:05:00-sun:06:00',
    });
    this.replicationGroup.applyRemovalPolicy(
      props.protect ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
    );

    this.url = `rediss://${this.replicationGroup.attrPrimaryEndPointAddress}:${this.replicationGroup.attrPrimaryEndPointPort}`;

    Validations.of(this.replicationGroup).acknowledge({
      id: 'AwsSolutions-AEC5',
      reason:
        'Default port kept; the group is in isolated subnets, requires TLS and an AUTH token, and its security group admits only Plinth tasks.',
    });
    if (!multiNode) {
      Validations.of(this.replicationGroup).acknowledge({
        id: 'AwsSolutions-AEC4',
        reason:
          'Single node is a deliberate dev cost choice (replicas=0); prod config requires replicas and Multi-AZ.',
      });
    }
  }
}
