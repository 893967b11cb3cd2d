/**
 * Least-privilege access of the app's task roles to the uploads bucket: object actions per key
 * prefix (the storage areas of service/src/storage), never the whole bucket. The prefixes and
 * what each role does there mirror the service: the API serves avatars, stages avatar uploads
 * and presigns export downloads; the worker resizes staged uploads into avatars, removes replaced
 * ones and writes exports.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** The storage areas (key prefixes) of the bucket. */
export type StorageArea = 'avatars' | 'uploads' | 'exports';
/** What a role may do with the objects under one area. */
export type ObjectAccess = 'read' | 'write' | 'delete';

const S3_ACTIONS: Record<ObjectAccess, string> = {
  read: 's3:GetObject',
  write: 's3:PutObject',
  delete: 's3:DeleteObject',
};

/** One area and what a role does there. */
export interface AreaGrant {
  readonly area: StorageArea;
  readonly access: readonly ObjectAccess[];
}

/** The API: serves avatars, stages avatar uploads (and removes them when the request fails), presigns exports. */
export const API_OBJECT_ACCESS: readonly AreaGrant[] = [
  { area: 'avatars', access: ['read'] },
  { area: 'uploads', access: ['write', 'delete'] },
  // A presigned GET is only as good as its signer's s3:GetObject.
  { area: 'exports', access: ['read'] },
];

/** The worker: reads and removes staged uploads, writes and removes avatars and exports. */
export const WORKER_OBJECT_ACCESS: readonly AreaGrant[] = [
  { area: 'uploads', access: ['read', 'delete'] },
  { area: 'avatars', access: ['write', 'delete'] },
  { area: 'exports', access: ['read', 'write', 'delete'] },
];

/**
 * Grants `grants` on `bucket` to `role`: the object actions on `<area>/*` only; s3:ListBucket on
 * the bucket when the role reads (without it S3 answers a missing key with AccessDenied instead
 * of NoSuchKey, and `GET /media/<key>` would fail instead of answering 404); and the bucket key's
 * KMS actions through S3 only (Decrypt to read, GenerateDataKey to write).
 */
export function grantObjectAccess(
  role: iam.IGrantable,
  bucket: s3.IBucket,
  key: kms.IKey,
  grants: readonly AreaGrant[],
): void {
  const principal = role.grantPrincipal;
  for (const { area, access } of grants) {
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: access.map((a) => S3_ACTIONS[a]),
        resources: [bucket.arnForObjects(`${area}/*`)],
      }),
    );
  }
  const all = new Set(grants.flatMap((g) => g.access));
  if (all.has('read')) {
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    );
  }
  const kmsActions = [
    ...(all.has('read') || all.has('write') ? ['kms:Decrypt'] : []),
    ...(all.has('write') ? ['kms:GenerateDataKey'] : []),
  ];
  if (kmsActions.length > 0) {
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: kmsActions,
        resources: [key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${bucket.stack.region}.amazonaws.com` },
        },
      }),
    );
  }
}

/** cdk-nag finding ids of those grants: the per-area object wildcards (`<bucket>/<area>/*`). */
export function objectAccessFindings(bucketArn: string, grants: readonly AreaGrant[]): string[] {
  return grants.map(({ area }) => `AwsSolutions-IAM5[Resource::${bucketArn}/${area}/*]`);
}
