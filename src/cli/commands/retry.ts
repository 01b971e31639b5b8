import { retryFeatureSignal, retryFeatureUpdate } from '../../api/messages';
import { featureCommand } from './skip';

export const retry = featureCommand('retryFeature', 'Run a feature that ended incomplete, blocked, failed or skipped again', retryFeatureUpdate, retryFeatureSignal);
