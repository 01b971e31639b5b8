#!/usr/bin/env bash
# Records the workflow histories the replay test (test/replay.test.ts) replays: one file per path in
# test/histories/. Run it after a deliberate, versioned workflow change (see README, "Changing workflow code").
set -euo pipefail
cd "$(dirname "$0")/.."
# Histories of earlier workflow versions stay in their folders (test/histories/*/) and keep being replayed.
rm -f test/histories/*.json
export MISSION_RECORD_HISTORIES=1
npx jest --runInBand \
  test/mission-flow.test.ts test/mission-approval.test.ts test/mission-integration.test.ts test/mission-budget.test.ts test/continue-as-new.test.ts test/mission-outcomes.test.ts test/mission-money.test.ts \
  test/mission-questions.test.ts test/mission-steering.test.ts test/mission-skills.test.ts \
  -t 'two milestones of parallel|rejecting the plan|revising the plan|a planner that keeps breaking|cancelling the mission at the approval gate|editing the same lines|cannot resolve is aborted|fixed by the repair agent|over the token budget|low history limit|plan criteria are checked|the report costs what|over budget.maxCostUsd|a 429 storm that outlasts|questions answered with|a steer note reaches|skip: a pending feature|retry: a feature that ended blocked|replan: the milestones not started|skills are offered by description'
ls -la test/histories
