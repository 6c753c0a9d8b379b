/**
 * The identifier shapes Rolecall checks, defined once. Every value that reaches a Redis key, an Atlas
 * path or a Slack mention is matched against one of these first.
 */

/** An Atlas orgId, groupId (project) or userId: 24 lowercase hex characters (spec `^([a-f0-9]{24})$`). */
export const ATLAS_ID = /^[a-f0-9]{24}$/;

/** An Atlas role name as people type it: `ORG_…` or `GROUP_…`. */
export const ROLE_NAME = /^(ORG|GROUP)_[A-Z0-9_]+$/;

/** An Atlas project role the v2 API accepts (the spec has no closed list since 2026-02; NOTES.md 7b). */
export const ATLAS_PROJECT_ROLE = /^GROUP_[A-Z_]+$/;

/** A Slack user id (`U…`, or `W…` on Enterprise Grid). */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** A Slack channel id (`C…` public, `G…` private). */
export const SLACK_CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;
