/** Roles `requested` adds to `current`: exactly the ones not already held. */
export function rolesToAdd(current: readonly string[], requested: readonly string[]): string[] {
  const held = new Set(current);
  return unique(requested).filter((role) => !held.has(role));
}

/** The role set after a grant: everything held plus what is added, in a stable order. */
export function rolesAfterGrant(current: readonly string[], added: readonly string[]): string[] {
  return unique([...current, ...added]);
}

/** The role set after revoking `added`: what is held minus exactly those roles. */
export function rolesAfterRevoke(current: readonly string[], added: readonly string[]): string[] {
  const drop = new Set(added);
  return unique(current).filter((role) => !drop.has(role));
}

/** True when both lists hold the same roles, in any order. */
export function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((role) => right.has(role));
}

function unique(roles: readonly string[]): string[] {
  return [...new Set(roles)];
}
