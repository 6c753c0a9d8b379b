import type { AtlasScope } from '../../src/lib/scope.js';

/** What a simulated endpoint answers: status, JSON body and headers. */
export interface SimAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** One simulated endpoint: method, path pattern, the media type it speaks and its handler. */
export interface SimRoute {
  readonly method: string;
  readonly pattern: RegExp;
  readonly mediaType: string;
  readonly handle: (match: RegExpExecArray, body: unknown, query: URLSearchParams) => SimAnswer;
}

/** A person as the simulator's modules see them. */
export interface SimPerson {
  readonly id: string;
  readonly username: string;
}

/**
 * What the core simulator lends a module (teams, federation, database access): its error body, its
 * organizations, projects and people, its paging. A module keeps its own state and adds routes.
 */
export interface SimModuleContext {
  /** The ApiError body `{detail, error, errorCode, parameters, reason}` (NOTES.md section 3). */
  error(status: number, errorCode: string, detail: string, parameters?: unknown[]): SimAnswer;
  /** 404 ORG_NOT_FOUND / GROUP_NOT_FOUND when the scope does not exist; undefined when it does. */
  scopeMissing(scope: AtlasScope): SimAnswer | undefined;
  /** The organization that owns a project; undefined for an unknown project. */
  orgOfProject(groupId: string): string | undefined;
  /** The projects of an organization, by id. */
  projectsOf(orgId: string): readonly string[];
  userById(id: string): SimPerson | undefined;
  userByUsername(username: string): SimPerson | undefined;
  /** Holds at least one role in the scope (an active member). */
  isMember(userId: string, scope: AtlasScope): boolean;
  /**
   * Sets a person's roles in one scope through the core's one role write (so their timeline records
   * it; [] removes them from the scope) and returns the roles they held before.
   */
  setRolesOf(userId: string, scope: AtlasScope, roles: readonly string[]): string[];
  /** A fresh 24-hex id under a two-character prefix. */
  newId(prefix: string): string;
  /** One page of a list answer, as the core list calls page (itemsPerPage, pageNum, links, totalCount). */
  page(items: readonly unknown[], path: string, query: URLSearchParams): SimAnswer;
}

/** A module's part in the simulator: its routes, and which Atlas rate-limit bucket each path counts against. */
export interface SimModule {
  readonly routes: readonly SimRoute[];
  /** Paths that count against an organization's or a project's bucket (the first group of the match is its id). */
  readonly buckets?: readonly { readonly pattern: RegExp; readonly scope: 'org' | 'project' }[];
}
