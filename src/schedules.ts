import { ScheduleOverlapPolicy, type Client, type ScheduleHandle, type ScheduleSummary } from '@temporalio/client';
import { z } from 'zod';
import { MISSION_WORKFLOW, TASK_QUEUE } from './api/constants';
import { MissionInputError, parseMissionInput, type MissionRequest } from './api/input';
import { describeIssues } from './api/issues';

/** How a run that comes due while the previous one still runs is handled (Temporal's overlap policies). */
export const Overlap = z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all']);
export type Overlap = z.infer<typeof Overlap>;

const OVERLAP: Record<Overlap, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

export const MissionScheduleOptions = z.strictObject({
  scheduleId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 letters, digits, ".", "_" or "-"'),
  cron: z.array(z.string().min(1)).min(1, 'give at least one cron expression, e.g. "0 9 * * 1-5"'),
  overlap: Overlap.default('skip'),
  paused: z.boolean().default(false),
  note: z.string().optional(),
  taskQueue: z.string().min(1).optional(),
});
export type MissionScheduleOptions = z.input<typeof MissionScheduleOptions>;

/**
 * A Temporal Schedule that starts the `mission` workflow with `input` (checked now, not at the first run).
 * Each run's id is `mission-<scheduleId>-<time>`. Overlap defaults to skip: a mission still running
 * when the next comes due is not doubled.
 */
export async function createMissionSchedule(client: Client, options: MissionScheduleOptions, input: MissionRequest): Promise<ScheduleHandle> {
  const parsedOptions = MissionScheduleOptions.safeParse(options);
  if (!parsedOptions.success) throw new MissionInputError(describeIssues(parsedOptions.error, MissionScheduleOptions));
  const parsed = parseMissionInput(input);
  if (!parsed.ok) throw new MissionInputError(parsed.errors);
  const o = parsedOptions.data;
  return client.schedule.create({
    scheduleId: o.scheduleId,
    spec: { cronExpressions: o.cron },
    action: {
      type: 'startWorkflow',
      workflowType: MISSION_WORKFLOW,
      workflowId: `mission-${o.scheduleId}`,
      taskQueue: o.taskQueue ?? process.env.MISSION_TASK_QUEUE ?? TASK_QUEUE,
      args: [input],
      staticSummary: `scheduled mission: ${parsed.value.prompt.split('\n')[0]!.slice(0, 100)}`,
    },
    policies: { overlap: OVERLAP[o.overlap], catchupWindow: '10 minutes' },
    state: { paused: o.paused, note: o.note },
  });
}

export interface MissionScheduleInfo {
  scheduleId: string;
  cron: string[];
  paused: boolean;
  note?: string;
  nextRuns: string[];
  recentRuns: { workflowId: string; startedAt: string }[];
}

export async function listMissionSchedules(client: Client): Promise<MissionScheduleInfo[]> {
  const out: MissionScheduleInfo[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== MISSION_WORKFLOW) continue;
    out.push(scheduleInfo(s));
  }
  return out;
}

function scheduleInfo(s: ScheduleSummary): MissionScheduleInfo {
  return {
    scheduleId: s.scheduleId,
    cron: s.spec?.calendars?.map((c) => c.comment ?? JSON.stringify(c)) ?? [],
    paused: s.state.paused,
    note: s.state.note,
    nextRuns: s.info.nextActionTimes.map((d) => d.toISOString()),
    recentRuns: s.info.recentActions.map((a) => ({
      workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : '',
      startedAt: a.takenAt.toISOString(),
    })),
  };
}
