/**
 * Loaded with `node --import` (after tsx): prints `module-watch: <url>` on stderr for every module
 * of OpenTelemetry or bullmq-otel the process resolves through ESM, so a test can tell from a
 * process's output whether tracing's SDK was ever loaded. The hook runs on Node's loader thread,
 * hence plain JavaScript in a data: URL and a direct write to fd 2.
 */
import { register } from 'node:module';

const HOOKS = `
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (/\\/node_modules\\/(@opentelemetry\\/|bullmq-otel\\/)/.test(resolved.url)) {
    writeSync(2, 'module-watch: ' + resolved.url + '\\n');
  }
  return resolved;
}
`;

register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
