import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DatabaseConfig } from '../config.js';

/** Props for {@link Database}. */
export interface DatabaseProps {
  /** VPC; instances go into its isolated subnets. */
  readonly vpc: ec2.IVpc;
  /** Key for storage, Performance Insights and secrets. */
  readonly encryptionKey: kms.IKey;
  /** Sizing and rotation settings. */
  readonly config: DatabaseConfig;
  /** Environment name, used in the instance identifiers (`plinth-<env>-db`). */
  readonly envName: string;
  /** Deletion protection and SNAPSHOT removal instead of DESTROY. */
  readonly protect: boolean;
  /** AZs to spread the read replicas over. */
  readonly availabilityZones: readonly string[];
  /** CloudWatch Logs retention for the PostgreSQL log, days. */
  readonly logRetentionDays: logs.RetentionDays;
}

/**
 * PostgreSQL major version of RDS, the migration task's bootstrap image, docker compose and CI.
 * Supported range: 15–17 (local tests may run the machine's 15; production runs this one).
 */
export const POSTGRES_MAJOR = '17';
/** Database name created on the primary. */
export const DATABASE_NAME = 'plinth';
/** Owner / migration user (master). */
export const MASTER_USERNAME = 'plinth_admin';
/** Runtime role used by the API and worker (DML only); rotation alternates it with `<name>_clone`. */
export const APP_USERNAME = 'plinth_app';

/**
 * The primary's DB instance identifier, `plinth-<env>-db`: fixed, so the release snapshot step and
 * its IAM policy can name the instance (and its snapshots) before the stage is deployed.
 */
export function primaryInstanceIdentifier(envName: string): string {
  return `plinth-${envName}-db`;
}

/**
 * RDS for PostgreSQL: primary (Multi-AZ per config) and N read replicas in isolated subnets, KMS
 * encrypted, TLS enforced by `rds.force_ssl`, Performance Insights, and two credentials:
 *
 *  - the master secret (`plinth_admin`, single-user rotation) — used only by the one-off migration
 *    task, which reads it when it starts;
 *  - the app secret (`plinth_app`, multi-user rotation) — used by long-running tasks. Each rotation
 *    changes the password of the *other* user (`plinth_app` ⇄ `plinth_app_clone`) and then points
 *    the secret at it, so the credentials a running task was started with stay valid for a full
 *    rotation interval.
 */
export class Database extends Construct {
  /** The primary instance. */
  public readonly primary: rds.DatabaseInstance;
  /** Read replicas (possibly empty). */
  public readonly replicas: rds.DatabaseInstanceReadReplica[] = [];
  /** Master (`plinth_admin`) credentials; fields `username`, `password`. */
  public readonly masterSecret: secretsmanager.ISecret;
  /** Runtime (`plinth_app`) credentials; fields `username`, `password`. */
  public readonly appSecret: secretsmanager.ISecret;
  /** Security group of all instances; allow clients with `connections`. */
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { config, vpc, encryptionKey: key, protect } = props;
    const engine = rds.DatabaseInstanceEngine.postgres({
      version: rds.PostgresEngineVersion.of(POSTGRES_MAJOR, POSTGRES_MAJOR),
    });
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'PostgreSQL: ingress only from Plinth tasks and rotation functions',
      allowAllOutbound: false,
    });

    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'Plinth PostgreSQL: TLS required, slow-query logging',
      parameters: {
        'rds.force_ssl': '1',
        ssl_min_protocol_version: 'TLSv1.2',
        log_min_duration_statement: '1000',
        log_connections: '1',
        log_disconnections: '1',
      },
    });

    const instanceIdentifier = primaryInstanceIdentifier(props.envName);
    // Pre-create the exported log group so it gets a retention (avoids the LogRetention Lambda).
    const logGroup = new logs.LogGroup(this, 'PostgresLog', {
      logGroupName: `/aws/rds/instance/${instanceIdentifier}/postgresql`,
      retention: props.logRetentionDays,
      removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.primary = new rds.DatabaseInstance(this, 'Primary', {
      engine,
      instanceIdentifier,
      instanceType: new ec2.InstanceType(config.instanceType),
      vpc,
      vpcSubnets: subnets,
      securityGroups: [this.securityGroup],
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME),
      databaseName: DATABASE_NAME,
      multiAz: config.multiAz,
      storageType: rds.StorageType.GP3,
      allocatedStorage: config.allocatedStorageGiB,
      maxAllocatedStorage: config.maxAllocatedStorageGiB,
      storageEncrypted: true,
      storageEncryptionKey: key,
      parameterGroup,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      backupRetention: Duration.days(config.backupRetentionDays),
      preferredBackupWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'sun:04:30-sun:05:30',
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: key,
      performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
      cloudwatchLogsExports: ['postgresql'],
      publiclyAccessible: false,
      deletionProtection: protect,
      deleteAutomatedBackups: !protect,
      removalPolicy: protect ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
    });
    this.primary.node.addDependency(logGroup);
    if (!this.primary.secret) throw new Error('generated master secret missing');
    this.masterSecret = this.primary.secret;

    for (let i = 1; i <= config.readReplicas; i++) {
      this.replicas.push(
        new rds.DatabaseInstanceReadReplica(this, `Replica${i}`, {
          sourceDatabaseInstance: this.primary,
          instanceIdentifier: `${instanceIdentifier}-replica-${i}`,
          instanceType: new ec2.InstanceType(config.instanceType),
          vpc,
          vpcSubnets: subnets,
          securityGroups: [this.securityGroup],
          parameterGroup,
          // Like the primary: gp3, growing on its own up to the same ceiling (a replica that runs
          // out of space stops replicating).
          storageType: rds.StorageType.GP3,
          maxAllocatedStorage: config.maxAllocatedStorageGiB,
          // Spread replicas over the AZs; encryption (same key) is inherited from the primary.
          availabilityZone: props.availabilityZones[i % props.availabilityZones.length],
          caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
          autoMinorVersionUpgrade: true,
          enablePerformanceInsights: true,
          performanceInsightEncryptionKey: key,
          performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
          publiclyAccessible: false,
          deletionProtection: protect,
          // Replicas hold no data of their own; re-created from the primary if deleted.
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      );
    }

    const appSecret = new rds.DatabaseSecret(this, 'AppUserSecret', {
      username: APP_USERNAME,
      dbname: DATABASE_NAME,
      masterSecret: this.masterSecret,
    });
    this.appSecret = appSecret.attach(this.primary);
    // The instance may outlive the stack (SNAPSHOT/RETAIN); keep the credentials with it.
    // (`primary.secret` is the attachment; the generated secret itself is the `Secret` child.)
    const masterSecretResource = this.primary.node.findChild('Secret') as rds.DatabaseSecret;
    for (const secret of [masterSecretResource, appSecret]) {
      secret.applyRemovalPolicy(protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
    }

    const rotationSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.primary.addRotationSingleUser({
      automaticallyAfter: Duration.days(config.rotationDays),
      vpcSubnets: rotationSubnets,
    });
    this.primary.addRotationMultiUser('AppUserRotation', {
      secret: this.appSecret,
      automaticallyAfter: Duration.days(config.rotationDays),
      vpcSubnets: rotationSubnets,
      // The plinth_app role is created by the migration task's bootstrap step; rotating before
      // it exists would fail, so the first rotation happens on schedule, not at creation.
      rotateImmediatelyOnUpdate: false,
    });

    for (const replica of this.replicas) {
      Validations.of(replica).acknowledge({
        id: 'AwsSolutions-RDS2',
        reason:
          'A read replica inherits storage encryption and the KMS key from the encrypted primary; CloudFormation rejects StorageEncrypted together with SourceDBInstanceIdentifier.',
      });
      Validations.of(replica).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason:
          'Read replicas are single-AZ by design and spread over different AZs; the app falls back to the Multi-AZ primary when a replica is unavailable.',
      });
    }
    for (const instance of [this.primary, ...this.replicas]) {
      Validations.of(instance).acknowledge({
        id: 'AwsSolutions-RDS11',
        reason:
          'Standard port 5432 kept for tooling compatibility; the instances sit in isolated subnets and their security group admits only the Plinth task and rotation security groups.',
      });
      if (!config.multiAz) {
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-RDS3',
          reason: `Single-AZ is a deliberate cost choice in ${props.envName}; prod config enforces multiAz.`,
        });
      }
      if (!protect) {
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-RDS10',
          reason: `${props.envName} is disposable (protectData=false) so the stack can be torn down; prod enables deletion protection.`,
        });
      }
    }
  }

  /** ARNs of every instance (primary and replicas), for scoping describe permissions. */
  public get instanceArns(): string[] {
    return [this.primary, ...this.replicas].map((i) => i.instanceArn);
  }
}
