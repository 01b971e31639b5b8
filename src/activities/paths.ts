import path from 'node:path';

/**
 * Everything Mission writes lives under one home folder (MISSION_HOME, default ~/.mission),
 * outside the user's repository, so their checkout and tracked tree are never touched:
 *
 *   <home>/missions/<key>/run.json            which run and repo own this mission
 *   <home>/missions/<key>/context.json        AGENTS.md and skills read at prepare
 *   <home>/missions/<key>/skills/<name>/SKILL.md skills the planner wrote for the mission (approved with the plan)
 *   <home>/missions/<key>/sessions/<name>.json model conversations (kept out of workflow history)
 *   <home>/missions/<key>/outputs/<name>/      full text of tool outputs cut in a conversation
 *   <home>/model-capabilities.json            what each endpoint+model was found to support (structured output)
 *   <home>/worktrees/<key>/                   the mission worktree (branch mission/<key>)
 *   <home>/worktrees/<key>-<featureId>/       feature worktrees (branch mission/<key>-<featureId>)
 *   <home>/reports/<key>.md                   mission reports
 */
export class MissionPaths {
  constructor(readonly home: string) {}

  missionDir(key: string): string {
    return path.join(this.home, 'missions', key);
  }
  runFile(key: string): string {
    return path.join(this.missionDir(key), 'run.json');
  }
  contextFile(key: string): string {
    return path.join(this.missionDir(key), 'context.json');
  }
  skillsDir(key: string): string {
    return path.join(this.missionDir(key), 'skills');
  }
  sessionFile(key: string, name: string): string {
    return path.join(this.missionDir(key), 'sessions', `${name}.json`);
  }
  outputsDir(key: string, name: string): string {
    return path.join(this.missionDir(key), 'outputs', name);
  }
  capabilitiesFile(): string {
    return path.join(this.home, 'model-capabilities.json');
  }
  missionWorktree(key: string): string {
    return path.join(this.home, 'worktrees', key);
  }
  featureWorktree(key: string, featureId: string): string {
    return path.join(this.home, 'worktrees', `${key}-${featureId}`);
  }
  report(key: string): string {
    return path.join(this.home, 'reports', `${key}.md`);
  }
}
