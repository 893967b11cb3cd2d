import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** Props for {@link ApiWebAcl}. */
export interface ApiWebAclProps {
  /** Metric name prefix, e.g. `plinth-dev`. */
  readonly name: string;
  /** ARN of the ALB to protect. */
  readonly loadBalancerArn: string;
  /** Max requests per client IP in any 5-minute window before blocking. */
  readonly rateLimitPer5Min: number;
}

/** AWS managed rule groups, evaluated in this order. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
] as const;

/** Regional WAF web ACL for the API ALB: IP rate limit plus AWS managed rule groups. */
export class ApiWebAcl extends Construct {
  /** The web ACL. */
  public readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: ApiWebAclProps) {
    super(scope, id);
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.name}-${metricName}`,
    });

    const rules: wafv2.CfnWebACL.RuleProperty[] = [
      {
        name: 'RateLimitPerIp',
        priority: 0,
        action: { block: {} },
        statement: {
          rateBasedStatement: { limit: props.rateLimitPer5Min, aggregateKeyType: 'IP' },
        },
        visibilityConfig: visibility('RateLimitPerIp'),
      },
      ...MANAGED_RULE_GROUPS.map((name, i): wafv2.CfnWebACL.RuleProperty => ({
        name,
        priority: i + 1,
        overrideAction: { none: {} },
        statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
        visibilityConfig: visibility(name),
      })),
    ];

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: 'Plinth API: per-IP rate limit and AWS managed rule groups',
      rules,
      visibilityConfig: visibility('WebAcl'),
    });

    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.loadBalancerArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
