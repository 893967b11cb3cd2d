import { createHash } from 'node:crypto';
import type { Stack } from 'aws-cdk-lib';
import { CfnOutput, CfnResource, Lazy } from 'aws-cdk-lib';

/**
 * A fingerprint of every resource of `producer` that other stacks read through weak references
 * (`Fn::GetStackOutput`), e.g. the Redis endpoint or the database address.
 *
 * Why: a weak reference is resolved at deploy time, so when such a resource is replaced (a new Redis
 * endpoint) the consumer's template text does not change, CloudFormation (and `cdk deploy`) see
 * nothing to update, and running tasks keep the stale value. Putting this fingerprint into the
 * consumer (the task definitions' Docker labels) changes the consumer's template whenever the
 * definition of a referenced resource changes — including every change that replaces it — so the
 * tasks are redeployed and read the new values. A change that does not replace the resource rolls
 * the tasks once more than needed, which is harmless.
 *
 * Resolved lazily, at synthesis, after CDK has created the producer's `Publish/Output…` outputs.
 */
export function referencedResourcesVersion(producer: Stack): string {
  // Uncached: CDK resolves the consumer once while it creates the Publish outputs (too early).
  return Lazy.uncachedString({ produce: () => fingerprint(producer) });
}

function fingerprint(producer: Stack): string {
  const publish = producer.node.tryFindChild('Publish');
  const outputs = (publish?.node.children ?? []).filter(
    (c): c is CfnOutput => c instanceof CfnOutput,
  );
  const referenced = new Set<string>();
  for (const output of outputs) collectLogicalIds(producer.resolve(output.value), referenced);
  const resources = new Map<string, CfnResource>();
  for (const c of producer.node.findAll()) {
    if (c instanceof CfnResource) resources.set(producer.getLogicalId(c), c);
  }
  const hash = createHash('sha256');
  for (const id of [...referenced].sort()) {
    const resource = resources.get(id);
    if (!resource) continue;
    // _toCloudFormation is CDK-internal but stable: it renders exactly what the template holds.
    const rendered = (resource as unknown as { _toCloudFormation(): object })._toCloudFormation();
    hash.update(JSON.stringify(producer.resolve(rendered)));
  }
  return hash.digest('hex').slice(0, 16);
}

function collectLogicalIds(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) collectLogicalIds(v, into);
  } else if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.Ref === 'string') into.add(obj.Ref);
    const getAtt = obj['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') into.add(getAtt[0]);
    for (const v of Object.values(obj)) collectLogicalIds(v, into);
  }
}
