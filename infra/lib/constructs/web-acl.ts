import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** An endpoint that accepts a request body (from the service's generated route manifest). */
export interface BodyRoute {
  /** HTTP method, upper case. */
  readonly method: string;
  /** OpenAPI-style path, `{param}` for one path segment, e.g. `/api/articles/{slug}`. */
  readonly path: string;
}

/** Props for {@link ApiWebAcl}. */
export interface ApiWebAclProps {
  /** Metric and log-group name part, e.g. `plinth-dev`. */
  readonly name: string;
  /** ARN of the ALB to protect. */
  readonly loadBalancerArn: string;
  /** Max requests per client IP in any 5-minute window before blocking (10 – 2,000,000,000). */
  readonly rateLimitPer5Min: number;
  /**
   * Endpoints whose bodies the API itself limits and validates: the managed body-size (8 KB) and
   * cross-site-scripting-in-body rules do not block requests to these (any other request they
   * match is still blocked). Must not be empty.
   */
  readonly bodyRoutes: readonly BodyRoute[];
  /**
   * IPv4 CIDR ranges the per-IP rate rule does not count (load generators). The managed rule groups
   * still inspect their requests. @default [] (every client is rate limited)
   */
  readonly rateLimitExemptCidrs?: readonly string[];
  /** Retention of the WAF log (blocked and counted requests). */
  readonly logRetention: logs.RetentionDays;
  /** Keep the WAF log group when the stack is deleted. @default false */
  readonly retainLogs?: boolean;
}

/** AWS managed rule groups, evaluated in this order after the rate rule. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
] as const;

/**
 * Core rule set rules that inspect the body: set to count, so they only label a request; the
 * `BodyRulesOutsideBodyRoutes` rule then blocks labelled requests unless they go to a body route.
 * Label names from the AWS managed rule group documentation (baseline rule groups, CRS).
 */
export const SCOPED_BODY_RULES = {
  SizeRestrictions_BODY: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body',
  CrossSiteScripting_BODY: 'awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body',
} as const;

/** WAF regex strings are at most 512 characters; alternations are split below that. */
const MAX_REGEX_LENGTH = 500;

/**
 * Regional WAF web ACL for the API ALB: per-IP rate limit (load-test ranges exempt), AWS managed
 * rule groups with the body rules scoped to the API's body routes, and a log of every blocked or
 * counted request (authorization and cookie headers redacted).
 */
export class ApiWebAcl extends Construct {
  /** The web ACL. */
  public readonly webAcl: wafv2.CfnWebACL;
  /** The WAF log (`aws-waf-logs-<name>`). */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiWebAclProps) {
    super(scope, id);
    if (props.bodyRoutes.length === 0) {
      throw new Error(`${id}: bodyRoutes is empty; regenerate it with npm run routes:manifest`);
    }
    if (props.rateLimitPer5Min < 10 || props.rateLimitPer5Min > 2_000_000_000) {
      throw new Error(`${id}: rateLimitPer5Min must be 10 – 2,000,000,000`);
    }
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.name}-${metricName}`,
    });

    const exempt = props.rateLimitExemptCidrs ?? [];
    const loadTestSources = exempt.length
      ? new wafv2.CfnIPSet(this, 'LoadTestSources', {
          scope: 'REGIONAL',
          ipAddressVersion: 'IPV4',
          addresses: [...exempt],
          description: 'Load generators the per-IP rate rule does not count',
        })
      : undefined;

    const rules: wafv2.CfnWebACL.RuleProperty[] = [
      {
        name: 'RateLimitPerIp',
        priority: 0,
        action: { block: {} },
        statement: {
          rateBasedStatement: {
            limit: props.rateLimitPer5Min,
            aggregateKeyType: 'IP',
            ...(loadTestSources
              ? {
                  scopeDownStatement: {
                    notStatement: {
                      statement: { ipSetReferenceStatement: { arn: loadTestSources.attrArn } },
                    },
                  },
                }
              : {}),
          },
        },
        visibilityConfig: visibility('RateLimitPerIp'),
      },
      ...MANAGED_RULE_GROUPS.map((name, i): wafv2.CfnWebACL.RuleProperty => ({
        name,
        priority: i + 1,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: 'AWS',
            name,
            ...(name === 'AWSManagedRulesCommonRuleSet'
              ? {
                  ruleActionOverrides: Object.keys(SCOPED_BODY_RULES).map((rule) => ({
                    name: rule,
                    actionToUse: { count: {} },
                  })),
                }
              : {}),
          },
        },
        visibilityConfig: visibility(name),
      })),
      {
        name: 'BodyRulesOutsideBodyRoutes',
        priority: MANAGED_RULE_GROUPS.length + 1,
        action: { block: {} },
        statement: {
          andStatement: {
            statements: [
              anyOf(
                Object.values(SCOPED_BODY_RULES).map((key) => ({
                  labelMatchStatement: { scope: 'LABEL', key },
                })),
              ),
              { notStatement: { statement: bodyRouteStatement(props.bodyRoutes) } },
            ],
          },
        },
        visibilityConfig: visibility('BodyRulesOutsideBodyRoutes'),
      },
    ];

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description:
        'Plinth API: per-IP rate limit and AWS managed rule groups, body rules scoped to the API body routes',
      rules,
      visibilityConfig: visibility('WebAcl'),
    });

    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.loadBalancerArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF requires the log group name to start with aws-waf-logs-.
    const logGroupName = `aws-waf-logs-${props.name}`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // The bare log-group ARN (no ":*"), as WAF expects.
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [
        { singleHeader: { Name: 'authorization' } },
        { singleHeader: { Name: 'cookie' } },
      ],
      // Only what WAF acted on: blocked requests and those a rule counted (the scoped body rules).
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: ['BLOCK', 'COUNT', 'EXCLUDED_AS_COUNT'].map((Action) => ({
              ActionCondition: { Action },
            })),
          },
        ],
      },
    });
    logging.node.addDependency(this.logGroup);
  }
}

/** WAF regex for one path template: `{param}` is one segment; a trailing slash is tolerated. */
export function pathPattern(path: string): string {
  const escaped = path
    .toLowerCase()
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  return escaped.join('[^/]+');
}

/** Statement matching a request to any of `routes` (method exactly, lower-cased URI path). */
export function bodyRouteStatement(
  routes: readonly BodyRoute[],
): wafv2.CfnWebACL.StatementProperty {
  const byMethod = new Map<string, string[]>();
  for (const route of routes) {
    byMethod.set(route.method, [...(byMethod.get(route.method) ?? []), pathPattern(route.path)]);
  }
  return anyOf(
    [...byMethod].map(([method, patterns]) => ({
      andStatement: {
        statements: [
          {
            byteMatchStatement: {
              fieldToMatch: { method: {} },
              positionalConstraint: 'EXACTLY',
              searchString: method,
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          anyOf(
            alternations(patterns).map((regexString) => ({
              regexMatchStatement: {
                fieldToMatch: { uriPath: {} },
                regexString,
                textTransformations: [{ priority: 0, type: 'LOWERCASE' }],
              },
            })),
          ),
        ],
      },
    })),
  );
}

/** `^(a|b|c)/?$` regexes, each under the WAF length limit. */
function alternations(patterns: readonly string[]): string[] {
  const out: string[][] = [[]];
  for (const p of patterns) {
    const current = out[out.length - 1] as string[];
    if (current.length > 0 && `^(${[...current, p].join('|')})/?$`.length > MAX_REGEX_LENGTH) {
      out.push([p]);
    } else {
      current.push(p);
    }
  }
  return out.map((group) => `^(${group.join('|')})/?$`);
}

/** One statement, or an OR of several (WAF requires at least two statements in an OR). */
function anyOf(statements: wafv2.CfnWebACL.StatementProperty[]): wafv2.CfnWebACL.StatementProperty {
  if (statements.length === 1) return statements[0] as wafv2.CfnWebACL.StatementProperty;
  return { orStatement: { statements } };
}
