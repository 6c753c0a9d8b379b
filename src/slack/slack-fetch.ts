import type { FetchFunction } from '@slack/web-api';
import { LABELLED_METHODS, labelDryRun } from './dry-run-label.js';

/**
 * The fetch every Slack Web API client uses (WebClientOptions.fetch, @slack/web-api 8): the global
 * fetch, reporting each failed call (`ok: false`, HTTP 429 as `ratelimited`, other HTTP errors as
 * `http_<status>`, network failures as `request_failed`) with its method, for the metrics. The
 * response is handed back untouched (its clone is read). With `dryRun`, every message and view is
 * labelled (see dry-run-label.ts) before it is sent.
 */
export function createSlackFetch(
  onApiError: (method: string, error: string) => void,
  options: { readonly dryRun?: boolean } = {},
): FetchFunction {
  return async (url, init) => {
    const method = new URL(String(url)).pathname.split('/').filter(Boolean).pop() ?? 'unknown';
    const sent =
      options.dryRun && LABELLED_METHODS.has(method) && typeof init?.body === 'string'
        ? { ...init, body: labelForm(init.body) }
        : init;
    let response: Response;
    try {
      response = await fetch(url, sent);
    } catch (error) {
      onApiError(method, 'request_failed');
      throw error;
    }
    if (response.status === 429) {
      onApiError(method, 'ratelimited');
    } else if (!response.ok) {
      onApiError(method, `http_${response.status}`);
    } else if (response.headers.get('content-type')?.includes('json')) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { ok?: unknown; error?: unknown } | undefined;
      if (body?.ok === false)
        onApiError(method, typeof body.error === 'string' ? body.error : 'unknown_error');
    }
    return response;
  };
}

/** Labels a Web API form body (JSON-valued fields such as `blocks` and `view` decoded and re-encoded). */
function labelForm(body: string): string {
  const form = new URLSearchParams(body);
  const payload: Record<string, unknown> = {};
  for (const [key, value] of form) {
    payload[key] = key === 'blocks' || key === 'view' ? parseJson(value) : value;
  }
  const labelled = labelDryRun(payload);
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(labelled)) {
    out.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out.toString();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
