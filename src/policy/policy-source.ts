import { type FSWatcher, realpathSync, watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { Policy } from './policy.js';
import { loadPolicy, type PolicyApi } from './read-policy.js';

/** What {@link openPolicySource} needs: the file, the Atlas API it is checked against, where to log. */
export interface PolicySourceOptions {
  /** The policy file path (POLICY_FILE). */
  readonly file: string;
  /** The Atlas API the policy is used with: a role it lacks makes the file invalid. */
  readonly api: PolicyApi;
  /** Where 'policy loaded', 'policy reloaded' and a broken file's problems are logged. */
  readonly logger: Logger;
  /** Told the version of every policy that takes effect (metrics). */
  readonly onLoaded?: (version: string) => void;
}

/** The policy in force in this process, and how it follows the file. */
export interface PolicySource {
  /** The policy in force now. */
  current(): Policy;
  /** Re-reads the file; a broken one keeps the policy in force, is logged, and throws. `why` e.g. 'SIGHUP'. */
  reload(why: string): Promise<void>;
  /** Runs `hook` after every policy that takes effect (changed version). */
  onChange(hook: (next: Policy) => Promise<void>): void;
  /** Watches the file (and a symlink's target dir), reloading on change; returns stop. */
  watch(): () => void;
}

/** Reads the policy file once and returns the source (throws the file's problems in words). */
export async function openPolicySource(options: PolicySourceOptions): Promise<PolicySource> {
  const { file, api, logger, onLoaded } = options;
  const read = () => loadPolicy(file, api);
  let policy: Policy = await read();
  logger.info('policy loaded', describePolicy(policy));
  onLoaded?.(policy.version);
  /** Run after every policy that takes effect (workers keep the review schedules in step). */
  const hooks: ((next: Policy) => Promise<void>)[] = [];
  const reload = async (why: string): Promise<void> => {
    try {
      const next = await read();
      const changed = next.version !== policy.version;
      policy = next;
      if (changed) {
        logger.info('policy reloaded', { why, ...describePolicy(policy) });
        onLoaded?.(policy.version);
        for (const hook of hooks) await hook(policy);
      } else if (why === 'SIGHUP')
        logger.info('policy re-read, unchanged', { why, ...describePolicy(policy) });
    } catch (error) {
      logger.error('policy not reloaded; keeping the one in force', {
        why,
        version: policy.version,
        problems: isAppError(error) ? error.message : String(error),
      });
      throw error;
    }
  };
  return {
    current: () => policy,
    reload,
    onChange(hook) {
      hooks.push(hook);
    },
    // A broken file was logged by reload and keeps the policy in force.
    watch: () => watchPolicyFile(file, () => reload('the file changed').catch(() => undefined)),
  };
}

/** The log fields that say which policy is in force. */
function describePolicy(policy: Policy): {
  version: string;
  targets: number;
  rules: number;
  bundles: number;
} {
  return {
    version: policy.version,
    targets: policy.targets.length,
    rules: policy.targets.reduce((sum, t) => sum + t.rules.length, 0),
    bundles: policy.bundles?.length ?? 0,
  };
}

/**
 * Calls `changed` when the policy file may have changed, at most once per 250 ms burst. Watches the
 * file's directory (an editor's rename-and-replace, a Kubernetes ConfigMap's `..data` swap) and, when
 * it is a symlink, its target's directory too, following the link as it moves; any event there means
 * a re-read, which costs a hash. Returns a function that stops watching.
 */
function watchPolicyFile(path: string, changed: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watchers = new Map<string, FSWatcher>();
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      follow();
      changed();
    }, 250);
  };
  const follow = () => {
    const dirs = new Set([dirname(resolve(path))]);
    try {
      dirs.add(dirname(realpathSync(path)));
    } catch {
      // Missing for a moment (a swap in progress): the next event follows it.
    }
    for (const [dir, watcher] of watchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, fire);
        watcher.on('error', () => undefined);
        watchers.set(dir, watcher);
      } catch {
        // A directory that cannot be watched: SIGHUP still reloads.
      }
    }
  };
  follow();
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers.values()) watcher.close();
  };
}
