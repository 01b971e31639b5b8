import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined when the code runs outside an activity (unit tests). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
