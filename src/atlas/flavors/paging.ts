import { AppError } from '../../errors.js';
import type { AtlasCall, AtlasHttp } from '../http-client.js';

/** Items asked for per page of a list call: the most Atlas, Cloud Manager and Ops Manager allow (spec `itemsPerPage` 1–500). */
export const PAGE_SIZE = 500;

/** Pages read before giving up: 200 pages of 500 is 100,000 members, far above any Atlas org or project limit. */
export const MAX_PAGES = 200;

/** One page of a list call (spec `Paginated…View`; v1.0 lists have the same shape). */
export interface Page<T> {
  readonly results?: readonly T[];
  readonly totalCount?: number;
}

/**
 * Reads every page of a list call (`GET` with `pageNum` 1, 2, … and `itemsPerPage` {@link PAGE_SIZE}) until
 * a page brings fewer than PAGE_SIZE results, an empty one included. An item whose id came on an earlier
 * page (the list shifted while paging) is kept once. Never loops forever: throws AppError `INTERNAL` when
 * a full page brings nothing new (the server ignores `pageNum`) or after {@link MAX_PAGES} full pages;
 * a failed call throws its own AppError.
 */
export async function readAllPages<T>(
  http: AtlasHttp,
  call: Omit<AtlasCall, 'method' | 'body'>,
  idOf: (item: T) => string,
  pageSize: number = PAGE_SIZE,
): Promise<T[]> {
  const PAGE = Math.min(PAGE_SIZE, Math.max(1, Math.floor(pageSize)));
  const items = new Map<string, T>();
  for (let pageNum = 1; pageNum <= MAX_PAGES; pageNum += 1) {
    const { body } = await http.send<Page<T> | undefined>({
      ...call,
      method: 'GET',
      query: { ...call.query, itemsPerPage: String(PAGE), pageNum: String(pageNum) },
    });
    const results = body?.results ?? [];
    let fresh = 0;
    for (const item of results) {
      const id = idOf(item);
      if (items.has(id)) continue;
      items.set(id, item);
      fresh += 1;
    }
    if (results.length < PAGE) return [...items.values()];
    if (fresh === 0) {
      throw new AppError(
        'INTERNAL',
        `Atlas sent the same ${PAGE} entries again for page ${pageNum} while ${call.operation}; Rolecall stopped rather than read the list forever.`,
        { details: { operation: call.operation, pageNum } },
      );
    }
  }
  throw new AppError(
    'INTERNAL',
    `Atlas still had more entries after ${MAX_PAGES} pages of ${PAGE} while ${call.operation}; Rolecall stopped there rather than read the list forever.`,
    { details: { operation: call.operation, pages: MAX_PAGES } },
  );
}
