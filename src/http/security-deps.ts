// The security services the HTTP layer uses (keys, audit trail, usage, token counts), from AppDeps or built from the store.
import { auditTrailOf, type AuditTrail } from '../security/audit.js';
import { KeyService } from '../security/keys-service.js';
import type { AuditRepo } from '../store/audit-repo.js';
import { TokenCounter } from '../usage/token-count.js';
import { UsageService } from '../usage/usage-service.js';
import type { AppDeps } from './deps.js';

export interface SecurityDeps {
  keys: KeyService;
  trail: AuditTrail;
  audit: AuditRepo;
  usage: UsageService;
  tokens: TokenCounter;
}

export function securityDepsOf(deps: AppDeps): SecurityDeps {
  const keys = deps.keys ?? new KeyService(deps.config, deps.store.apiKeys);
  return {
    keys,
    trail: deps.auditTrail ?? auditTrailOf(deps.store),
    audit: deps.store.audit,
    usage: new UsageService(deps.store.usage, keys),
    tokens: deps.tokens ?? new TokenCounter({ env: {}, defaultModel: deps.config.claude.model }),
  };
}
