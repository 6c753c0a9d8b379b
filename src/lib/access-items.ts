/**
 * What a request may ask for besides Atlas roles, written the way people type it: `team:NAME`, a
 * membership of an organization's team, and `db:LEVEL`, temporary database access on a project. Held, overlapped, extended and ended like a role, so the
 * ledger, the lifecycle and the messages need no second shape: an item is a role name or one of these.
 */
export const TEAM_ITEM_PREFIX = 'team:';

/** A team as the policy names it: its Atlas name (letters, digits, ".", "_", "-") or its 24-hex id. */
export const TEAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A role someone holds through a team they are in, not on their own: never theirs to remove one by one. */
export interface RoleThroughTeam {
  readonly role: string;
  /** The team, as an item (`team:NAME`). */
  readonly team: string;
}

/** What a team gives on one project: the project's name (or id) and the team's roles there. */
export interface TeamProjectAccess {
  readonly team: string;
  readonly project: string;
  readonly roles: readonly string[];
}

/**
 * `db:LEVEL`: temporary database access on a project at one of the access levels its policy names (a
 * database user Rolecall creates, with `deleteAfterDate` at the grant's end).
 */
export const DATABASE_ITEM_PREFIX = 'db:';

/** A database access level's name in the policy (and after `db:`). */
export const DATABASE_LEVEL = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Whether an item is database access rather than a role or a team. */
export function isDatabaseItem(item: string): boolean {
  return item.startsWith(DATABASE_ITEM_PREFIX);
}

/** The access level a `db:` item names; undefined for anything else. */
export function levelOfItem(item: string): string | undefined {
  return isDatabaseItem(item) ? item.slice(DATABASE_ITEM_PREFIX.length) : undefined;
}

/** `team:NAME` for a team the policy names. */
export function teamItem(name: string): string {
  return `${TEAM_ITEM_PREFIX}${name}`;
}

/** Whether an item is a team membership rather than a role. */
export function isTeamItem(item: string): boolean {
  return item.startsWith(TEAM_ITEM_PREFIX);
}

/** The team an item names (its name or id as the policy wrote it); undefined for a role. */
export function teamOfItem(item: string): string | undefined {
  return isTeamItem(item) ? item.slice(TEAM_ITEM_PREFIX.length) : undefined;
}

/** The Atlas roles among items (teams and database access left out): what a role write takes. */
export function rolesAmong(items: readonly string[]): string[] {
  return items.filter((item) => !isTeamItem(item) && !isDatabaseItem(item));
}
