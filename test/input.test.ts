import { ApplicationFailure } from '@temporalio/common';
import { parseMissionInput, parseMissionInputOrFail } from '../src/api/input';
import { missionKeyFor } from '../src/api/ids';

describe('mission input', () => {
  it('applies the documented defaults to an empty object and to no input at all', () => {
    for (const raw of [{}, undefined, null]) {
      const result = parseMissionInput(raw);
      expect(result).toEqual({
        ok: true,
        value: {
          prompt: 'Describe the mission goal.',
          requirePlanApproval: true,
          maxMilestones: 6,
          maxFeaturesPerMilestone: 6,
          maxConcurrency: 3,
          useWorktrees: false,
          baseBranch: 'main',
          models: {},
          validation: {},
          budget: { maxTurnsPerFeature: 40 },
          sandbox: { network: false },
          skills: { commit: false },
          stallAfterSeconds: 600,
        },
      });
    }
  });

  it('takes skills.commit strictly: a boolean, no other fields', () => {
    expect(parseMissionInput({ skills: { commit: true } })).toMatchObject({ ok: true, value: { skills: { commit: true } } });
    expect(parseMissionInput({ skills: { commit: 'yes' } })).toEqual({ ok: false, errors: [expect.stringMatching(/^skills\.commit: must be true or false/)] });
    expect(parseMissionInput({ skills: { commit: true, push: true } })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^skills.*push/)] });
  });

  it('takes sandbox.network strictly: a boolean, no other fields', () => {
    expect(parseMissionInput({ sandbox: { network: true } })).toMatchObject({ ok: true, value: { sandbox: { network: true } } });
    expect(parseMissionInput({ sandbox: { network: 'yes' } })).toEqual({ ok: false, errors: ['sandbox.network: must be true or false'] });
    expect(parseMissionInput({ sandbox: { netwrk: true } })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^sandbox\.netwrk: unknown field \(did you mean "network"\?\)/)] });
  });

  it.each([
    [{ maxConcurency: 2 }, 'maxConcurency: unknown field (did you mean "maxConcurrency"?)'],
    [{ budget: { maxTurns: 3 } }, 'budget.maxTurns: unknown field (did you mean "maxTurnsPerFeature"?)'],
    [{ maxMilestones: -1 }, 'maxMilestones: must be at least 1'],
    [{ maxConcurrency: 17 }, 'maxConcurrency: must be at most 16'],
    [{ maxFeaturesPerMilestone: 2.5 }, 'maxFeaturesPerMilestone: must be a whole number'],
    [{ prompt: '   ' }, 'prompt: must not be empty'],
    [{ repo: 'relative/path' }, 'repo: must be an absolute path'],
    [{ useWorktrees: 'yes' }, 'useWorktrees: must be true or false'],
    [{ validation: { commands: [{ name: 'test' }] } }, 'validation.commands.0.run'],
    ['just a string', '(input): must be a JSON object'],
  ])('rejects %j naming the field', (raw, expected) => {
    const result = parseMissionInput(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(expected);
  });

  it('reports every wrong field at once', () => {
    const result = parseMissionInput({ maxMilestones: 0, colour: 'red', prompt: '' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toHaveLength(3);
  });

  it('throws a non-retryable INVALID_INPUT failure with the reasons', () => {
    let thrown: unknown;
    try {
      parseMissionInputOrFail({ maxMilestones: 0 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    const failure = thrown as ApplicationFailure;
    expect(failure.type).toBe('INVALID_INPUT');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/maxMilestones: must be at least 1/);
  });
});

describe('mission keys', () => {
  it.each([
    ['mission-abc', 'mission-abc'],
    ['my mission/with:odd*chars', 'my-mission-with-odd-chars'],
    ['..hidden..x.lock', 'hidden.x-lock'],
    ['///', 'mission'],
  ])('%s becomes the ref-safe key %s', (id, key) => {
    expect(missionKeyFor(id)).toBe(key);
  });
});
