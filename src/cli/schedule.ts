import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { createMissionSchedule, listMissionSchedules, Overlap } from '../schedules';
import { UsageError, type Context } from './common';

export const SCHEDULE_USAGE = `mission schedule create --id ID --cron "0 9 * * 1-5" [--cron ...] [--prompt TEXT] [--repo PATH] [--input JSON]
                          [--overlap skip|buffer-one|buffer-all|cancel-other|terminate-other|allow-all] [--paused] [--note TEXT]
mission schedule list [--json]
mission schedule pause|unpause ID [--note TEXT]
mission schedule trigger ID
mission schedule delete ID`;

/** `mission schedule <action>`: Temporal Schedules that start missions. */
export async function scheduleCommand(client: Client, args: string[], ctx: Context): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      cron: { type: 'string', multiple: true },
      prompt: { type: 'string' },
      repo: { type: 'string' },
      input: { type: 'string' },
      overlap: { type: 'string' },
      paused: { type: 'boolean' },
      note: { type: 'string' },
    },
  });
  const id = () => {
    if (positionals.length !== 1) throw new UsageError(`expected one schedule id\nusage:\n${SCHEDULE_USAGE}`);
    return positionals[0]!;
  };
  switch (action) {
    case 'create': {
      if (!values.id) throw new UsageError(`--id is required\nusage:\n${SCHEDULE_USAGE}`);
      const overlap = Overlap.safeParse(values.overlap ?? 'skip');
      if (!overlap.success) throw new UsageError(`--overlap must be one of ${Overlap.options.join(', ')}`);
      let input: Record<string, unknown>;
      try {
        input = values.input ? (JSON.parse(values.input) as Record<string, unknown>) : {};
      } catch (err) {
        throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
      }
      const request = { repo: values.repo ?? process.cwd(), ...input, ...(values.prompt ? { prompt: values.prompt } : {}) };
      const handle = await createMissionSchedule(client, { scheduleId: values.id, cron: values.cron ?? [], overlap: overlap.data, paused: values.paused ?? false, note: values.note }, request);
      ctx.out({ scheduleId: handle.scheduleId, created: true }, `created schedule ${handle.scheduleId}`);
      return 0;
    }
    case 'list': {
      const schedules = await listMissionSchedules(client);
      ctx.out(schedules, schedules.map((s) => `${s.scheduleId}\t${s.paused ? 'paused' : 'active'}\tnext ${s.nextRuns[0] ?? '—'}\t${s.recentRuns.length} run(s)`).join('\n') || 'no schedules');
      return 0;
    }
    case 'pause': {
      const scheduleId = id();
      await client.schedule.getHandle(scheduleId).pause(values.note);
      ctx.out({ scheduleId, action: 'pause', done: true }, `pause ${scheduleId}: done`);
      return 0;
    }
    case 'unpause': {
      const scheduleId = id();
      await client.schedule.getHandle(scheduleId).unpause(values.note);
      ctx.out({ scheduleId, action: 'unpause', done: true }, `unpause ${scheduleId}: done`);
      return 0;
    }
    case 'trigger': {
      const scheduleId = id();
      await client.schedule.getHandle(scheduleId).trigger();
      ctx.out({ scheduleId, action: 'trigger', done: true }, `trigger ${scheduleId}: done`);
      return 0;
    }
    case 'delete': {
      const scheduleId = id();
      await client.schedule.getHandle(scheduleId).delete();
      ctx.out({ scheduleId, action: 'delete', done: true }, `delete ${scheduleId}: done`);
      return 0;
    }
    default:
      throw new UsageError(`unknown schedule action "${action ?? ''}"\nusage:\n${SCHEDULE_USAGE}`);
  }
}

