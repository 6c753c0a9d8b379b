import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { loadStoreSettings } from '../config.js';
import { AppError } from '../errors.js';
import { redisKeys } from '../lib/redis-keys.js';
import { createLogger } from '../ops/logger.js';
import { connectRedis } from '../ops/redis.js';
import { isReviewId, REVIEW_EXPORT_COLUMNS, reviewExportRows } from '../reviews/review-export.js';
import { createReviewStore } from '../reviews/review-store.js';
import type { CheckOutput } from './policy-check.js';

/** Usage of `rolecall audit`, shown with every argument error. */
export const AUDIT_USAGE = 'usage: rolecall audit --review ID [--format csv|json]';

const FORMATS = ['csv', 'json'] as const;

/**
 * `rolecall audit --review RV-0001 [--format csv|json]` (and `npm run audit -- …`): prints an access
 * review's signed-off list to stdout, one row per standing (person, role) with who decided what,
 * when, under which policy version, and how a revocation went. Reads REDIS_URL and QUEUE_PREFIX
 * like the app; writes nothing. CSV cells that a spreadsheet would run as a formula (`=`, `+`,
 * `-`, `@`) are prefixed with `'` (csv-stringify's escape_formulas).
 * Returns 0, 1 (no such review, Redis or config unusable; the reason on stderr) or 2 (usage).
 */
export async function runAuditExport(
  args: readonly string[],
  output: CheckOutput,
  env?: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  let reviewId: string;
  let format: (typeof FORMATS)[number];
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { review: { type: 'string' }, format: { type: 'string', default: 'csv' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new Error(`unexpected argument: ${positionals[0]}`);
    if (values.review === undefined) throw new Error('--review ID is missing');
    if (!isReviewId(values.review)) throw new Error(`--review must be a review id such as RV-0001`);
    if (!(FORMATS as readonly string[]).includes(values.format)) {
      throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
    }
    reviewId = values.review;
    format = values.format as (typeof FORMATS)[number];
  } catch (error) {
    output.err(`${(error as Error).message}\n${AUDIT_USAGE}`);
    return 2;
  }
  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  try {
    const store = loadStoreSettings(env);
    // Connection problems go to stderr as JSON lines; stdout carries only the export.
    const logger = createLogger({ level: 'error', write: output.err });
    redis = await connectRedis(store.url, 'commands', logger);
    const reviews = createReviewStore(redis, redisKeys(store.prefix));
    const review = await reviews.get(reviewId);
    if (review === undefined) {
      output.err(`There is no review ${reviewId} under QUEUE_PREFIX ${store.prefix} (kept 400 days).`);
      return 1;
    }
    const rows = reviewExportRows(review, await reviews.decisions(reviewId));
    if (format === 'json') {
      const { messages: _messages, lines: _lines, ...meta } = review;
      output.out(JSON.stringify({ review: meta, rows }, null, 2));
    } else {
      const text = stringify(rows, {
        header: true,
        columns: [...REVIEW_EXPORT_COLUMNS],
        escape_formulas: true,
      });
      output.out(text.replace(/\n$/, ''));
    }
    return 0;
  } catch (error) {
    output.err(error instanceof AppError ? `${error.code}: ${error.message}` : (error as Error).message);
    return 1;
  } finally {
    redis?.disconnect();
  }
}
