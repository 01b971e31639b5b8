/** A workflow id made safe for git refs and folder names (`mission/<key>`). */
export function missionKeyFor(workflowId: string): string {
  const key = workflowId
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[-.]+|[-.]+$/g, '')
    .replace(/\.lock$/i, '-lock')
    .slice(0, 100);
  return key || 'mission';
}

export const featureWorkflowId = (missionId: string, milestoneId: string, featureId: string) => `${missionId}/${milestoneId}/${featureId}`;
export const milestoneStep = (missionId: string, milestoneId: string) => `${missionId}/${milestoneId}`;

/** git cannot hold both `mission/<key>` and `mission/<key>/<featureId>`, hence the dash. */
export const missionBranch = (key: string) => `mission/${key}`;
export const featureBranch = (key: string, featureId: string) => `mission/${key}-${featureId}`;

/** A host's own task queue (src/activities/host.ts); here so workflow code can name a host's queue (moveHost). */
export const HOST_QUEUE_PREFIX = 'mission-host-';
export const hostQueue = (hostId: string): string => `${HOST_QUEUE_PREFIX}${hostId}`;
