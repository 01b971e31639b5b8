import { replanSignal, replanUpdate } from '../../api/messages';
import { feedbackCommand } from './revise';

export const replan = feedbackCommand('replan', 'Re-plan the milestones not started yet, then approve again', replanUpdate, replanSignal);
