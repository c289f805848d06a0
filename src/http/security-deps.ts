// The security services the HTTP layer uses (keys, audit trail, usage, token counts), from AppDeps or built from the store.
import { auditTrailOf, type AuditTrail } from '../security/audit.js';
import { KeyService } from '../security/keys-service.js';
import type { AuditRepo } from '../store/audit-repo.js';
import { TokenCounter } from '../usage/token-count.js';
import { UsageService } from '../usage/usage-service.js';
import type { AppDeps } from './deps.js';

export interface SecurityDeps {
  keys: KeyService;
  /** Undefined when there is no database (tests of the HTTP shell): nothing is audited. */
  trail: AuditTrail | undefined;
  audit: AuditRepo;
  usage: UsageService;
  tokens: TokenCounter;
}

export function securityDepsOf(deps: AppDeps): SecurityDeps {
  const store = deps.store as Partial<AppDeps['store']>;
  const keys = deps.keys ?? new KeyService(deps.config, store.apiKeys);
  const trail = deps.auditTrail ?? (store.audit ? auditTrailOf(deps.store) : undefined);
  return {
    keys,
    trail,
    audit: store.audit as AuditRepo,
    usage: new UsageService(store.usage as NonNullable<typeof store.usage>, keys),
    tokens: deps.tokens ?? new TokenCounter({ env: {}, defaultModel: deps.config.claude.model }),
  };
}
