/** @module Interface tokengate:policy/decide@0.1.0 **/
export function validateLimitTo(text: string): Array<Problem>;
export function validateIp(text: string): Array<Problem>;
export function canonicalize(target: string, publicBase: string): CanonicalTarget;
export interface Problem {
  line: number,
  message: string,
}
export interface CompileError {
  limitTo: Array<Problem>,
  ip: Array<Problem>,
}
/**
 * # Variants
 * 
 * ## `"rest"`
 * 
 * ## `"extender"`
 */
export type Scope = 'rest' | 'extender';
/**
 * # Variants
 * 
 * ## `"basic"`
 * 
 * ## `"bearer"`
 */
export type AuthScheme = 'basic' | 'bearer';
/**
 * # Variants
 * 
 * ## `"not-origin-form"`
 * 
 * ## `"non-ascii"`
 * 
 * ## `"bad-escape"`
 * 
 * ## `"encoded-slash"`
 * 
 * ## `"backslash"`
 * 
 * ## `"encoded-dot-segment"`
 * 
 * ## `"above-root"`
 * 
 * ## `"path-parameter"`
 * 
 * ## `"empty-segment"`
 * 
 * ## `"too-long"`
 */
export type TargetRefusal = 'not-origin-form' | 'non-ascii' | 'bad-escape' | 'encoded-slash' | 'backslash' | 'encoded-dot-segment' | 'above-root' | 'path-parameter' | 'empty-segment' | 'too-long';
export interface TargetError {
  reason: TargetRefusal,
  detail: string,
}
export interface CanonicalTarget {
  path: string,
  query?: string,
  queryPairs: Array<[string, string]>,
  url: string,
}
export interface TokenFacts {
  user?: string,
  validUntil?: bigint,
  validFrom?: bigint,
}
export interface RequestFacts {
  scheme: AuthScheme,
  presentedUser?: string,
  method: string,
  target: CanonicalTarget,
  body?: string,
  clientIp: string,
  nowMs: bigint,
}
export interface RawRequest {
  scheme: AuthScheme,
  presentedUser?: string,
  method: string,
  target: string,
  body?: string,
  clientIp: string,
  nowMs: bigint,
}
export interface Settings {
  scope: Scope,
}
/**
 * # Variants
 * 
 * ## `"method-not-allowed"`
 * 
 * ## `"expired"`
 * 
 * ## `"not-yet-valid"`
 * 
 * ## `"missing-user"`
 * 
 * ## `"bad-user-name"`
 * 
 * ## `"user-mismatch"`
 * 
 * ## `"bearer-needs-user"`
 * 
 * ## `"ip-not-allowed"`
 * 
 * ## `"out-of-scope"`
 * 
 * ## `"no-matching-rule"`
 */
export type DenyReason = 'method-not-allowed' | 'expired' | 'not-yet-valid' | 'missing-user' | 'bad-user-name' | 'user-mismatch' | 'bearer-needs-user' | 'ip-not-allowed' | 'out-of-scope' | 'no-matching-rule';
export interface Allowed {
  user: string,
  line?: number,
}
export interface Denied {
  reason: DenyReason,
  detail: string,
}
export type Decision = DecisionAllow | DecisionDeny;
export interface DecisionAllow {
  tag: 'allow',
  val: Allowed,
}
export interface DecisionDeny {
  tag: 'deny',
  val: Denied,
}
export interface Admission {
  path: string,
  query?: string,
  decision: Decision,
}
export interface ConditionCheck {
  text: string,
  matched: boolean,
}
export interface LineCheck {
  line: number,
  text: string,
  method?: boolean,
  url: boolean,
  conditions: Array<ConditionCheck>,
  matched: boolean,
}

export class Rules {
  /**
   * This type does not have a public constructor.
   */
  private constructor();
  static compile(limitTo: string, ip: string): Rules;
  lines(): Array<string>;
  needsBody(): boolean;
  decide(token: TokenFacts, request: RequestFacts, settings: Settings): Decision;
  admit(token: TokenFacts, request: RawRequest, settings: Settings, publicBase: string): Admission;
  explain(request: RequestFacts): Array<LineCheck>;
}
