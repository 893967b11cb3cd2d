/**
 * Evaluates a synthesized web ACL's rules for one request, by the documented match conditions of
 * the statements it uses. AWS managed rules are opaque; the two body rules Plinth scopes are
 * modelled from their documentation (AWS managed rule groups, core rule set):
 *  - SizeRestrictions_BODY matches a body over 8 KB (8,192 bytes);
 *  - CrossSiteScripting_BODY matches common cross-site-scripting patterns in the body (modelled as
 *    an HTML tag, an event-handler attribute or a javascript: URL).
 * Every other managed rule is assumed not to match (the requests here carry nothing else).
 */

export interface WafRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

type Statement = Record<string, unknown>;
type Rule = {
  Name: string;
  Priority: number;
  Action?: Record<string, unknown>;
  Statement: Statement;
};

const MODELLED_CRS_RULES: Record<string, { label: string; matches: (r: WafRequest) => boolean }> = {
  SizeRestrictions_BODY: {
    label: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body',
    matches: (r) => Buffer.byteLength(r.body) > 8192,
  },
  CrossSiteScripting_BODY: {
    label: 'awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body',
    matches: (r) => /<\s*[a-z]+[\s>/]|\bon[a-z]+\s*=|javascript:/i.test(r.body.slice(0, 8192)),
  },
};

/** `ALLOW` or `BLOCK:<rule name>` for `request` under the web ACL's `rules`. */
export function evaluate(rules: readonly Rule[], request: WafRequest): string {
  const labels = new Set<string>();
  for (const rule of [...rules].sort((a, b) => a.Priority - b.Priority)) {
    const group = rule.Statement.ManagedRuleGroupStatement as
      { Name: string; RuleActionOverrides?: { Name: string; ActionToUse: object }[] } | undefined;
    if (group) {
      if (group.Name !== 'AWSManagedRulesCommonRuleSet') continue;
      for (const [name, model] of Object.entries(MODELLED_CRS_RULES)) {
        if (!model.matches(request)) continue;
        labels.add(model.label);
        const override = group.RuleActionOverrides?.find((o) => o.Name === name);
        if (!override || !('Count' in override.ActionToUse)) return `BLOCK:${rule.Name}/${name}`;
      }
      continue;
    }
    if (rule.Statement.RateBasedStatement) continue; // one request never exceeds a rate
    if (matches(rule.Statement, request, labels) && rule.Action && 'Block' in rule.Action) {
      return `BLOCK:${rule.Name}`;
    }
  }
  return 'ALLOW';
}

function matches(s: Statement, r: WafRequest, labels: Set<string>): boolean {
  if (s.AndStatement) return list(s.AndStatement).every((x) => matches(x, r, labels));
  if (s.OrStatement) return list(s.OrStatement).some((x) => matches(x, r, labels));
  if (s.NotStatement) {
    return !matches((s.NotStatement as { Statement: Statement }).Statement, r, labels);
  }
  if (s.LabelMatchStatement) return labels.has((s.LabelMatchStatement as { Key: string }).Key);
  if (s.ByteMatchStatement) {
    const b = s.ByteMatchStatement as {
      FieldToMatch: Record<string, unknown>;
      PositionalConstraint: string;
      SearchString: string;
    };
    if (!('Method' in b.FieldToMatch) || b.PositionalConstraint !== 'EXACTLY') {
      throw new Error(`unmodelled byte match ${JSON.stringify(b)}`);
    }
    return r.method === b.SearchString;
  }
  if (s.RegexMatchStatement) {
    const m = s.RegexMatchStatement as {
      FieldToMatch: Record<string, unknown>;
      RegexString: string;
      TextTransformations: { Type: string }[];
    };
    if (!('UriPath' in m.FieldToMatch)) throw new Error('unmodelled regex field');
    const lower = m.TextTransformations.some((t) => t.Type === 'LOWERCASE');
    return new RegExp(m.RegexString).test(lower ? r.path.toLowerCase() : r.path);
  }
  throw new Error(`unmodelled statement ${Object.keys(s).join(',')}`);
}

function list(v: unknown): Statement[] {
  return (v as { Statements: Statement[] }).Statements;
}
