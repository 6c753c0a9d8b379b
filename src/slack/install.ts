import type { WebClient } from '@slack/web-api';

/** What the bot token is installed on, as auth.test says. */
export interface Installation {
  /**
   * An org-wide (Enterprise Grid) install: one token for the organization's workspaces, so methods
   * such as usergroups.users.list need the workspace (`team_id`) to act in.
   */
  readonly orgWide: boolean;
  /** The workspace of a workspace install; '' for an org-wide one, which belongs to no one workspace. */
  readonly teamId: string;
  /** The Enterprise Grid organization, or null outside one. */
  readonly enterpriseId: string | null;
}

/**
 * Reads the installation through auth.test once (is_enterprise_install, enterprise_id; see
 * https://api.slack.com/enterprise/apps/reference) and keeps the answer; a failure is asked again
 * on the next call.
 */
export function createInstallationReader(client: WebClient): () => Promise<Installation> {
  let answer: Promise<Installation> | undefined;
  return () => {
    if (answer) return answer;
    const asked = client.auth.test().then((auth) => ({
      orgWide: auth.is_enterprise_install === true,
      teamId: auth.is_enterprise_install === true ? '' : String(auth.team_id ?? ''),
      enterpriseId: auth.enterprise_id ? String(auth.enterprise_id) : null,
    }));
    answer = asked;
    asked.catch(() => {
      if (answer === asked) answer = undefined;
    });
    return asked;
  };
}
