import { Duration, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DomainConfig } from '../config.js';
import { ApiWebAcl } from './web-acl.js';
import type { BodyRoute } from './web-acl.js';

/** AWS WAF settings of a {@link PublicEndpoint}. */
export interface PublicEndpointWafProps {
  /** Max requests per client IP per 5 minutes. */
  readonly rateLimitPer5Min: number;
  /** Endpoints whose bodies the API limits and validates itself (see {@link ApiWebAcl}). */
  readonly bodyRoutes: readonly BodyRoute[];
  /** Load-generator ranges the rate rule does not count. @default [] */
  readonly rateLimitExemptCidrs?: readonly string[];
  /** WAF log retention. */
  readonly logRetention: logs.RetentionDays;
}

/** Props for {@link PublicEndpoint}. */
export interface PublicEndpointProps {
  /** VPC; the load balancer goes into its public subnets. */
  readonly vpc: ec2.IVpc;
  /** Name part for metrics and logs, e.g. `plinth-dev`. */
  readonly name: string;
  /** Port the targets listen on. */
  readonly targetPort: number;
  /** Target health check path. */
  readonly healthCheckPath: string;
  /**
   * How long a deregistering target keeps its in-flight requests: at least the app's drain delay
   * plus its shutdown timeout plus a margin (docs/architecture.md, "Shutdown fits the platform").
   */
  readonly deregistrationDelay: Duration;
  /** HTTPS host name and certificate; without it the endpoint serves plain HTTP. @default HTTP only */
  readonly domain?: DomainConfig;
  /** Refuse to build without `domain` (every environment but dev). @default false */
  readonly requireHttps?: boolean;
  /** AWS WAF in front of the load balancer. @default no WAF (the API's own rate limiter only) */
  readonly waf?: PublicEndpointWafProps;
  /** Bucket for ALB access logs (SSE-S3). */
  readonly accessLogsBucket: s3.IBucket;
  /** Key prefix of the access logs in that bucket. */
  readonly accessLogsPrefix: string;
  /** Deletion protection on the load balancer. @default false */
  readonly deletionProtection?: boolean;
}

/**
 * The public entry point of the API: internet-facing ALB (invalid headers dropped, access logs),
 * one IP target group, an HTTPS listener with an HTTP→HTTPS redirect when a domain is configured
 * (plain HTTP otherwise), an optional Route 53 alias, and the WAF web ACL.
 */
export class PublicEndpoint extends Construct {
  /** The load balancer. */
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Its security group (80/443 from anywhere). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The API target group. */
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The listener on port 80: forwards (HTTP only) or redirects to HTTPS. */
  public readonly httpListener: elbv2.ApplicationListener;
  /** The HTTPS listener, when a domain is configured. */
  public readonly httpsListener?: elbv2.ApplicationListener;
  /** The web ACL, when WAF is on. */
  public readonly webAcl?: ApiWebAcl;
  /** The URL clients use: `https://<domain>` or `http://<ALB DNS name>`. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: PublicEndpointProps) {
    super(scope, id);
    if (props.requireHttps && !props.domain) {
      throw new Error(`${id}: HTTPS is required here: set domain (host name + ACM certificate)`);
    }
    if (props.deregistrationDelay.toSeconds() > 3600) {
      throw new Error(`${id}: deregistrationDelay is at most 3600 s`);
    }

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Plinth public ALB: HTTP(S) from the internet',
      allowAllOutbound: false,
    });
    Validations.of(this.securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: props.waf
        ? 'Public API load balancer: ports 80/443 must be reachable from anywhere; AWS WAF filters requests.'
        : 'Public API load balancer: ports 80/443 must be reachable from anywhere; without WAF (dev) the API rate limiter is the protection.',
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: this.securityGroup,
      dropInvalidHeaderFields: true,
      deletionProtection: props.deletionProtection ?? false,
      idleTimeout: Duration.seconds(60),
    });
    this.loadBalancer.logAccessLogs(props.accessLogsBucket, props.accessLogsPrefix);

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: props.targetPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: props.deregistrationDelay,
      healthCheck: {
        path: props.healthCheckPath,
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });

    if (props.domain) {
      this.httpsListener = this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [
          acm.Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn),
        ],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.targetGroup],
      });
      this.httpListener = this.loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultAction: elbv2.ListenerAction.redirect({
          protocol: 'HTTPS',
          port: '443',
          permanent: true,
        }),
      });
      if (props.domain.hostedZone) {
        new route53.ARecord(this, 'Alias', {
          zone: route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
            hostedZoneId: props.domain.hostedZone.id,
            zoneName: props.domain.hostedZone.name,
          }),
          recordName: props.domain.domainName,
          target: route53.RecordTarget.fromAlias(
            new route53Targets.LoadBalancerTarget(this.loadBalancer),
          ),
        });
      }
      this.url = `https://${props.domain.domainName}`;
    } else {
      this.httpListener = this.loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultTargetGroups: [this.targetGroup],
      });
      this.url = `http://${this.loadBalancer.loadBalancerDnsName}`;
    }

    if (props.waf) {
      this.webAcl = new ApiWebAcl(this, 'Waf', {
        name: props.name,
        loadBalancerArn: this.loadBalancer.loadBalancerArn,
        rateLimitPer5Min: props.waf.rateLimitPer5Min,
        bodyRoutes: props.waf.bodyRoutes,
        ...(props.waf.rateLimitExemptCidrs
          ? { rateLimitExemptCidrs: props.waf.rateLimitExemptCidrs }
          : {}),
        logRetention: props.waf.logRetention,
        retainLogs: props.deletionProtection ?? false,
      });
    }
  }
}
