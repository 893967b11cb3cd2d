import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { PlinthConfig } from '../config.js';
import { PlinthStack } from './plinth-stack.js';
import type { PlinthStackProps } from './plinth-stack.js';
import { Database } from '../constructs/database.js';
import { RedisGroup } from '../constructs/redis-group.js';

/** Props for {@link DataStack}. */
export interface DataStackProps extends PlinthStackProps {
  /** VPC from the network stack. */
  readonly vpc: ec2.IVpc;
}

/**
 * Everything stateful: KMS key, PostgreSQL, Redis, S3 buckets and secrets. Termination protection,
 * deletion protection and RETAIN/SNAPSHOT removal when `protectData` (prod), so app-stack changes
 * can never replace or delete data.
 */
export class DataStack extends PlinthStack {
  /**
   * Customer-managed key for RDS (storage, Performance Insights), ElastiCache and S3 uploads.
   * Secrets use the account's `aws/secretsmanager` key: a CMK would put the app stack's execution
   * roles into this stack's key policy (kms:ViaService grant) and create a cross-stack cycle.
   */
  public readonly key: kms.Key;
  /** PostgreSQL primary, replicas and credentials. */
  public readonly database: Database;
  /** Queue Redis (noeviction). In dev with `sharedCacheAndQueue` it also serves the cache. */
  public readonly queueRedis: RedisGroup;
  /** Cache Redis (allkeys-lru); the queue group when shared. */
  public readonly cacheRedis: RedisGroup;
  /** Uploads and exports. */
  public readonly uploadsBucket: s3.Bucket;
  /** ALB access logs and S3 server access logs. */
  public readonly logsBucket: s3.Bucket;
  /** AUTH token of every Redis group (`REDIS_AUTH_TOKEN`). */
  public readonly redisAuthToken: secretsmanager.Secret;
  /** HS256 signing secret for the API's JWTs (`JWT_SECRET`). */
  public readonly jwtSecret: secretsmanager.Secret;
  /**
   * Earlier JWT signing keys that still verify tokens (`JWT_PREVIOUS_SECRETS`, comma-separated),
   * present when `jwtPreviousSecrets` is configured. Created with a random value nobody holds, so
   * it verifies nothing until the rotation runbook (docs/infra.md) puts the old key into it.
   */
  public readonly jwtPreviousSecrets?: secretsmanager.Secret;
  /** SES SMTP credentials (`username`, `password`), present when mail is configured. */
  public readonly smtpSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: props.config.protectData });
    const { config, vpc } = props;
    const protect = config.protectData;
    const removalPolicy = protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = new kms.Key(this, 'DataKey', {
      description: `Plinth ${config.envName}: RDS, ElastiCache, S3 uploads`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(protect ? 30 : 7),
    });

    this.logsBucket = new s3.Bucket(this, 'LogsBucket', {
      // ALB access logs support only SSE-S3.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [
        { id: 'ExpireLogs', expiration: Duration.days(Math.max(config.logRetentionDays, 30)) },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
      autoDeleteObjects: !protect,
    });
    Validations.of(this.logsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination bucket; logging it into itself would loop.',
    });

    this.uploadsBucket = new s3.Bucket(this, 'UploadsBucket', {
      // Deterministic name: the app stack addresses the bucket by name/ARN, not by a cross-stack token.
      bucketName: uploadsBucketName(config),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: protect,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 'uploads-access/',
      lifecycleRules: [
        {
          id: 'ExpireExports',
          prefix: 'exports/',
          expiration: Duration.days(config.exportsExpirationDays),
        },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
        {
          id: 'UploadsToInfrequentAccess',
          prefix: 'uploads/',
          transitions: [
            {
              storageClass: s3.StorageClass.INTELLIGENT_TIERING,
              transitionAfter: Duration.days(30),
            },
          ],
        },
        ...(protect
          ? [{ id: 'ExpireOldVersions', noncurrentVersionExpiration: Duration.days(30) }]
          : []),
      ],
      removalPolicy,
      autoDeleteObjects: !protect,
    });

    this.database = new Database(this, 'Database', {
      vpc,
      encryptionKey: this.key,
      config: config.database,
      envName: config.envName,
      availabilityZones: config.availabilityZones,
      protect,
      logRetentionDays: config.logRetentionDays as logs.RetentionDays,
    });

    this.redisAuthToken = new secretsmanager.Secret(this, 'RedisAuthToken', {
      description: `Plinth ${config.envName} Redis AUTH token (REDIS_AUTH_TOKEN), all groups`,
      generateSecretString: {
        passwordLength: 64,
        excludePunctuation: true, // AUTH tokens allow printable ASCII except @ " / — keep it simple
        includeSpace: false,
      },
      removalPolicy,
    });
    Validations.of(this.redisAuthToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'ElastiCache AUTH token rotation is a two-step ModifyReplicationGroup (ROTATE, then SET) for which Secrets Manager has no managed rotation function; rotated by the runbook in docs/infra.md.',
    });

    this.queueRedis = new RedisGroup(this, 'QueueRedis', {
      vpc,
      encryptionKey: this.key,
      description: config.redis.sharedCacheAndQueue
        ? `Plinth ${config.envName} queue and cache`
        : `Plinth ${config.envName} queue`,
      nodeType: config.redis.nodeType,
      replicas: config.redis.replicas,
      evictionPolicy: 'noeviction',
      authToken: this.redisAuthToken,
      snapshotRetentionDays: config.redis.snapshotRetentionDays,
      protect,
    });
    this.cacheRedis = config.redis.sharedCacheAndQueue
      ? this.queueRedis
      : new RedisGroup(this, 'CacheRedis', {
          vpc,
          encryptionKey: this.key,
          description: `Plinth ${config.envName} cache`,
          nodeType: config.redis.nodeType,
          replicas: config.redis.replicas,
          evictionPolicy: 'allkeys-lru',
          authToken: this.redisAuthToken,
          protect,
        });

    this.jwtSecret = new secretsmanager.Secret(this, 'JwtSecret', {
      description: `Plinth ${config.envName} JWT signing secret (JWT_SECRET)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(this.jwtSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the JWT signing key invalidates every issued token at once; it is rotated deliberately (new secret version + rolling deploy) as described in docs/infra.md.',
    });

    if (config.jwtPreviousSecrets) {
      this.jwtPreviousSecrets = new secretsmanager.Secret(this, 'JwtPreviousSecrets', {
        description: `Plinth ${config.envName} earlier JWT secrets, comma-separated (JWT_PREVIOUS_SECRETS); see the rotation runbook in docs/infra.md`,
        // No punctuation, so never a comma: the initial value is one random, unused key.
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
        removalPolicy,
      });
      Validations.of(this.jwtPreviousSecrets).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Holds the previous JWT signing key(s) during a deliberate key rotation (docs/infra.md runbook); a generated value would defeat its purpose.',
      });
    }

    if (config.mail) {
      this.smtpSecret = new secretsmanager.Secret(this, 'SmtpSecret', {
        description: `Plinth ${config.envName} SES SMTP credentials; set username/password after creating them (docs/infra.md)`,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: 'SET-ME' }),
          generateStringKey: 'password',
        },
        removalPolicy,
      });
      Validations.of(this.smtpSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'SES SMTP passwords are derived from an IAM access key and cannot be generated by a rotation function; rotate by issuing new SMTP credentials.',
      });
    }

    if (!protect) {
      const provider = this.node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider');
      if (provider) {
        Validations.of(provider).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            'CDK-owned auto-delete provider for disposable (non-prod) buckets; only writes its own logs.',
        });
      }
    }
  }
}

/** Name of the uploads bucket: unique per account, region and environment. */
export function uploadsBucketName(config: PlinthConfig): string {
  return `plinth-${config.envName}-uploads-${config.account}-${config.region}`;
}
