import type { FetchFunction } from '@slack/web-api';

/**
 * The fetch every Slack Web API client uses (WebClientOptions.fetch, @slack/web-api 8): the global
 * fetch, reporting each failed call (`ok: false`, HTTP 429 as `ratelimited`, other HTTP errors as
 * `http_<status>`, network failures as `request_failed`) with its method, for the metrics. The
 * response is handed back untouched (its clone is read).
 */
export function createSlackFetch(onApiError: (method: string, error: string) => void): FetchFunction {
  return async (url, init) => {
    const method = new URL(String(url)).pathname.split('/').filter(Boolean).pop() ?? 'unknown';
    let response: Response;
    try {
      response = await fetch(url, init);
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
