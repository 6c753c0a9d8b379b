/** Action ids of the buttons on request messages. */
export const ACTIONS = {
  approve: 'request_approve',
  deny: 'request_deny',
  retry: 'request_retry',
  cancel: 'request_cancel',
  /** Calls off a grant approved ahead of its start (approval message; requester, grantee or approver). */
  cancelScheduled: 'request_cancel_scheduled',
  /** Opens the Extend modal (reminder, DM). */
  extend: 'grant_extend',
  /** The grantee ends their grant now (reminder, DM). */
  end: 'grant_end',
  /** An approver ends a grant now (applied approval message). */
  revokeNow: 'grant_revoke_now',
  /** The grantee of a request made for them: "Not me / cancel" (DM). */
  notMe: 'request_not_me',
  /** Shows the grantee's current roles (and, to approvers, Atlas's detail of a failure), ephemerally. */
  details: 'request_details',
  /** An approver acknowledges a break-glass grant. */
  acknowledge: 'breakglass_acknowledge',
  /** Opens the request modal (Home tab). */
  homeRequest: 'home_request_access',
  /** Keeps a standing role on an access review. */
  reviewKeep: 'review_keep',
  /** Revokes a standing role on an access review. */
  reviewRevoke: 'review_revoke',
  /** Approves an offboarding. */
  offboardApprove: 'offboard_approve',
  /** Denies an offboarding. */
  offboardDeny: 'offboard_deny',
  /** The person who ran a workflow confirms the on-behalf request its step would file in their name (DM). */
  stepConfirm: 'workflow_confirm',
  /** …or cancels it: nothing is filed and the step ends with an error (DM). */
  stepCancel: 'workflow_cancel',
} as const;
