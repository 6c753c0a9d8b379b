/** Organization or project: the two kinds of Atlas scope roles live in (Atlas calls projects "groups"). */
export type ScopeKind = 'org' | 'project';

/** An Atlas organization or project by id: the one shape for "org or project + id". */
export interface AtlasScope {
  readonly kind: ScopeKind;
  /** orgId or groupId, 24 hex. */
  readonly id: string;
}

/** An org or project as the policy names it; requests keep a copy of the one they are about. */
export interface TargetRef extends AtlasScope {
  readonly name: string;
}

/** The scope a role name (or a `team:` / `db:` item, lib/access-items.ts) belongs to, from its prefix; undefined for anything else. */
export function scopeOfRole(role: string): ScopeKind | undefined {
  if (role.startsWith('ORG_') || role.startsWith('team:')) return 'org';
  if (role.startsWith('GROUP_') || role.startsWith('db:')) return 'project';
  return undefined;
}

/** "organization" or "project", for sentences. */
export function scopeWord(kind: ScopeKind): string {
  return kind === 'org' ? 'organization' : 'project';
}
